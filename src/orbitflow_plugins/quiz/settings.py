"""The quiz plugin's settings, parsed and checked once at start-up.

A bad value stops start-up with one line (a :class:`~orbitflow.config.ConfigError`)
instead of failing every visitor's request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from limits import RateLimitItem

from orbitflow.config import ConfigError, parse_int
from orbitflow_plugins.quiz.ratelimit import parse_limits

DEFAULT_MIN_FILL_SECONDS = 3
DEFAULT_FUNNEL_FLUSH_SECONDS = 1.0
DEFAULT_CACHE_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class QuizSettings:
    # Faster submissions are sent back to the visitor and nothing is stored (bots).
    min_fill_seconds: int
    # quiz.ratelimit.view / submit / event, per visitor address.
    limits: dict[str, list[RateLimitItem]]
    # How often the funnel-event recorder writes what it has gathered.
    funnel_flush_seconds: float = DEFAULT_FUNNEL_FLUSH_SECONDS
    # How often a process asks whether any quiz, company or pixel setting changed (quiz pages are
    # answered from its cache in between): the bound on how long an edit takes to show.
    cache_check_seconds: float = DEFAULT_CACHE_CHECK_SECONDS


def load_quiz_settings(ini: Mapping[str, str]) -> QuizSettings:
    return QuizSettings(
        min_fill_seconds=parse_int(
            "quiz.min_fill_seconds", ini.get("quiz.min_fill_seconds"), DEFAULT_MIN_FILL_SECONDS, 0
        ),
        limits=parse_limits(ini),
        funnel_flush_seconds=parse_seconds("quiz.funnel_flush_seconds", ini.get("quiz.funnel_flush_seconds")),
        cache_check_seconds=parse_seconds(
            "quiz.cache_check_seconds", ini.get("quiz.cache_check_seconds"), DEFAULT_CACHE_CHECK_SECONDS
        ),
    )


def parse_seconds(name: str, value: str | None, default: float = DEFAULT_FUNNEL_FLUSH_SECONDS) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds such as 1 or 0.5, got {value!r}") from None
    if not 0.01 <= seconds <= 60:
        raise ConfigError(f"{name} must be from 0.01 to 60 seconds, got {value!r}")
    return seconds
