"""Per-address rate limits of the public quiz pages, counted in the app's rate-limit store
(:mod:`orbitflow.ratelimit`). The limits themselves are INI settings::

    quiz.ratelimit.view = 120/minute
    quiz.ratelimit.submit = 20/minute;200/hour
    quiz.ratelimit.event = 600/minute

Keys are HMACs of the visitor's address, so a shared store never holds addresses.
"""

from __future__ import annotations

from collections.abc import Mapping

from limits import RateLimitItem

from orbitflow.ratelimit import RateLimiter, Verdict, parse_limit_setting

DEFAULT_LIMITS = {
    "view": "120/minute",
    "submit": "20/minute;200/hour",
    "event": "600/minute",
}

__all__ = ["QuizRateLimiter", "Verdict", "parse_limits"]


def parse_limits(ini: Mapping[str, str]) -> dict[str, list[RateLimitItem]]:
    return {
        scope: parse_limit_setting(f"quiz.ratelimit.{scope}", ini.get(f"quiz.ratelimit.{scope}"), default)
        for scope, default in DEFAULT_LIMITS.items()
    }


class QuizRateLimiter:
    def __init__(self, limiter: RateLimiter, limits: dict[str, list[RateLimitItem]]):
        self.limiter = limiter
        self.limits = limits

    def hit(self, scope: str, key: str) -> Verdict:
        """Count one request of ``scope`` from ``key``; the verdict says whether to serve it."""
        return self.limiter.hit(self.limits[scope], "quiz", scope, key)

    def reset(self) -> None:
        self.limiter.reset()
