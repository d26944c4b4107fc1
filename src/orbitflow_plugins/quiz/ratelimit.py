"""Per-address rate limits of the public quiz pages, with the ``limits`` library.

The counters live where ``orbitflow.ratelimit_storage`` says: ``memory://`` (one app
process; the default) or a shared store when several processes serve the app, such as
``redis://host:6379/0`` (needs ``pip install 'orbitflow[redis]'``) or
``memcached://host:11211``. The limits themselves are INI settings::

    quiz.ratelimit.view = 120/minute
    quiz.ratelimit.submit = 20/minute;200/hour
    quiz.ratelimit.event = 600/minute

Keys are HMACs of the visitor's address, so a shared store never holds addresses. The
sliding-window counter costs the same per request whatever the limit (a moving window keeps
one timestamp per request, which grows with the limit).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from orbitflow.config import ConfigError

log = logging.getLogger(__name__)

DEFAULT_LIMITS = {
    "view": "120/minute",
    "submit": "20/minute;200/hour",
    "event": "600/minute",
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


def parse_limits(ini: Mapping[str, str]) -> dict[str, list[RateLimitItem]]:
    parsed: dict[str, list[RateLimitItem]] = {}
    for scope, default in DEFAULT_LIMITS.items():
        name = f"quiz.ratelimit.{scope}"
        raw = ini.get(name) or default
        try:
            parsed[scope] = parse_many(raw)
        except ValueError:
            raise ConfigError(f"{name} must look like 20/minute or 20/minute;200/hour, got {raw!r}") from None
    return parsed


class ProcessMemoryStorage(MemoryStorage):
    """The ``limits`` in-memory storage, dropping expired counters every few seconds.

    The stock storage starts a clean-up timer thread on almost every hit, which costs more
    than the rest of the rate limiting together. Expired counters are ignored when read
    anyway; the clean-up only bounds memory, so running it now and then is enough."""

    CLEANUP_SECONDS = 5.0

    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now < getattr(self, "_next_cleanup", 0.0):
            return
        self._next_cleanup = now + self.CLEANUP_SECONDS
        MemoryStorage._MemoryStorage__schedule_expiry(self)


class QuizRateLimiter:
    def __init__(self, storage_uri: str, limits: dict[str, list[RateLimitItem]]):
        try:
            local = storage_uri.strip().lower() == "memory://"
            self.storage = ProcessMemoryStorage() if local else storage_from_string(storage_uri)
        except Exception as error:  # the limits library raises ConfigurationError and ImportError
            raise ConfigError(
                f"orbitflow.ratelimit_storage {storage_uri.split('://')[0]}:// is unusable: {error}"
            ) from None
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.limits = limits

    def hit(self, scope: str, key: str) -> Verdict:
        """Count one request of ``scope`` from ``key``; the verdict says whether to serve it."""
        try:
            for item in self.limits[scope]:
                if not self.limiter.hit(item, "quiz", scope, key):
                    reset_at = self.limiter.get_window_stats(item, "quiz", scope, key).reset_time
                    return Verdict(False, max(1, math.ceil(reset_at - time.time())))
        except Exception:
            # A store that is down must not stop lead capture: serve, and say so in the log.
            log.exception("rate limit store failed; serving the request unlimited")
        return Verdict(True)

    def reset(self) -> None:
        self.storage.reset()
