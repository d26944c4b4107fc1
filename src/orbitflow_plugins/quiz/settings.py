"""The quiz plugin's settings, parsed and checked once at start-up.

A bad value stops start-up with one line (a :class:`~orbitflow.config.ConfigError`)
instead of failing every visitor's request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from limits import RateLimitItem

from orbitflow.config import parse_int
from orbitflow_plugins.quiz.ratelimit import parse_limits

DEFAULT_MIN_FILL_SECONDS = 3


@dataclass(frozen=True)
class QuizSettings:
    # Faster submissions are sent back to the visitor and nothing is stored (bots).
    min_fill_seconds: int
    # quiz.ratelimit.view / submit / event, per visitor address.
    limits: dict[str, list[RateLimitItem]]


def load_quiz_settings(ini: Mapping[str, str]) -> QuizSettings:
    return QuizSettings(
        min_fill_seconds=parse_int(
            "quiz.min_fill_seconds", ini.get("quiz.min_fill_seconds"), DEFAULT_MIN_FILL_SECONDS, 0
        ),
        limits=parse_limits(ini),
    )
