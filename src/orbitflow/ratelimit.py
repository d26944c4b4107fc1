"""The app's one rate-limit store, with the ``limits`` library.

The counters live where ``orbitflow.ratelimit_storage`` says: ``memory://`` (one app
process; the default) or a shared store when several processes serve the app, such as
``redis://host:6379/0`` (needs ``pip install 'orbitflow[redis]'``) or
``memcached://host:11211``. Every limit of the core and the plugins (sign-in attempts, the
public quiz pages, browser error reports) counts in the same store, through
:func:`rate_limiter`. Callers pass keys that are HMACs of addresses and names
(:meth:`RateLimiter.key`), so a shared store never holds them in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, SlidingWindowCounterRateLimiter

from orbitflow.config import ConfigError, get_settings
from orbitflow.shared import provide, shared

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


def parse_limit_setting(name: str, raw: str | None, default: str) -> list[RateLimitItem]:
    """``20/minute`` or ``20/minute;200/hour`` from the INI (``default`` when empty)."""
    value = (raw or "").strip() or default
    try:
        return parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must look like 20/minute or 20/minute;200/hour, got {value!r}") from None


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


class RateLimiter:
    """Counters in one store. The sliding-window counter costs the same per request
    whatever the limit (a moving window keeps one timestamp per request); fixed windows
    serve as locks that last exactly their period from the first hit.

    A store that is down never stops the app: every check then allows, and says so in
    the log.
    """

    def __init__(self, storage_uri: str, secret: str = ""):
        try:
            local = storage_uri.strip().lower() == "memory://"
            self.storage = ProcessMemoryStorage() if local else storage_from_string(storage_uri)
        except Exception as error:  # the limits library raises ConfigurationError and ImportError
            raise ConfigError(
                f"orbitflow.ratelimit_storage {storage_uri.split('://')[0]}:// is unusable: {error}"
            ) from None
        self.sliding = SlidingWindowCounterRateLimiter(self.storage)
        self.fixed = FixedWindowRateLimiter(self.storage)
        self._secret = secret.encode()

    def key(self, *parts: str) -> str:
        """A stable, non-reversible key for ``parts`` (addresses, names)."""
        message = "\x1f".join(parts).encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def hit(self, items: Sequence[RateLimitItem], *keys: str, fixed: bool = False) -> Verdict:
        """Count one event against every item; refused when one of them is used up."""
        strategy = self.fixed if fixed else self.sliding
        try:
            for item in items:
                if not strategy.hit(item, *keys):
                    return Verdict(False, self._retry_after(strategy, item, keys))
        except Exception:
            log.exception("rate limit store failed; serving the request unlimited")
        return Verdict(True)

    def test(self, items: Sequence[RateLimitItem], *keys: str, fixed: bool = False) -> Verdict:
        """Would one more event be allowed? Counts nothing."""
        strategy = self.fixed if fixed else self.sliding
        try:
            for item in items:
                if not strategy.test(item, *keys):
                    return Verdict(False, self._retry_after(strategy, item, keys))
        except Exception:
            log.exception("rate limit store failed; serving the request unlimited")
        return Verdict(True)

    def remaining(self, item: RateLimitItem, *keys: str, fixed: bool = False) -> int:
        strategy = self.fixed if fixed else self.sliding
        try:
            return strategy.get_window_stats(item, *keys).remaining
        except Exception:
            log.exception("rate limit store failed")
            return item.amount

    def clear(self, item: RateLimitItem, *keys: str, fixed: bool = False) -> None:
        strategy = self.fixed if fixed else self.sliding
        try:
            strategy.clear(item, *keys)
        except Exception:
            log.exception("rate limit store failed")

    def count(self, key: str, seconds: int) -> int:
        """Add one to a plain counter that expires ``seconds`` after it started; its new value."""
        try:
            return self.storage.incr(f"count/{key}", seconds)
        except Exception:
            log.exception("rate limit store failed")
            return 0

    def take_count(self, key: str) -> int:
        """A counter's value, which starts again from zero."""
        try:
            value = self.storage.get(f"count/{key}")
            if value:
                self.storage.clear(f"count/{key}")
            return value
        except Exception:
            log.exception("rate limit store failed")
            return 0

    def reset(self) -> None:
        self.storage.reset()

    @staticmethod
    def _retry_after(strategy, item: RateLimitItem, keys: Sequence[str]) -> int:
        reset_at = strategy.get_window_stats(item, *keys).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def rate_limiter(registry) -> RateLimiter:
    return shared(registry, RateLimiter)


def includeme(config) -> None:
    settings = get_settings(config.registry)
    provide(config.registry, RateLimiter(settings.ratelimit_storage, settings.auth_secret))
