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
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import SlidingWindowCounterSupport, Storage, storage_from_string
from limits.storage.base import TimestampedSlidingWindow
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


class ProcessMemoryStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """Counters in this process's memory, built on the public storage interface of ``limits``
    (``Storage`` and ``SlidingWindowCounterSupport``, as its documentation asks of a custom
    storage).

    The library's own memory storage starts a clean-up timer thread on almost every hit,
    which costs more than the rest of the rate limiting together. Here an expired counter
    reads as zero and is dropped when touched, and the caller that finds a sweep due drops
    the other expired ones, every few seconds: the sweep only bounds memory. One lock keeps
    each check-and-count atomic between the server's threads."""

    STORAGE_SCHEME = ["orbitflow-memory"]
    CLEANUP_SECONDS = 5.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool):
        self._counts: dict[str, int] = {}
        self._expires: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def _live(self, key: str, now: float) -> int:
        if self._expires.get(key, 0.0) <= now:
            self._counts.pop(key, None)
            self._expires.pop(key, None)
            return 0
        return self._counts[key]

    def _add(self, key: str, expiry: float, amount: int, now: float) -> int:
        if now >= self._next_sweep:
            self._next_sweep = now + self.CLEANUP_SECONDS
            for stale in [name for name, at in self._expires.items() if at <= now]:
                self._counts.pop(stale, None)
                self._expires.pop(stale, None)
        value = self._live(key, now) + amount
        if value == amount:  # a new window starts with its first hit
            self._expires[key] = now + expiry
        self._counts[key] = value
        return value

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        with self._lock:
            return self._add(key, expiry, amount, time.time())

    def get(self, key: str) -> int:
        with self._lock:
            return self._live(key, time.time())

    def get_expiry(self, key: str) -> float:
        return self._expires.get(key, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int:
        with self._lock:
            count = len(self._counts)
            self._counts.clear()
            self._expires.clear()
        return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._expires.pop(key, None)

    def _window(self, key: str, expiry: int, now: float) -> tuple[str, int, float, int, float]:
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous = self._live(previous_key, now)
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return current_key, previous, previous_ttl, self._live(current_key, now), current_ttl

    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._lock:
            current_key, previous, previous_ttl, current, _ = self._window(key, expiry, now)
            if math.floor(previous * previous_ttl / expiry + current) + amount > limit:
                return False
            # The current window's counter lives on through the next window, where it weighs in.
            self._add(current_key, 2 * expiry, amount, now)
            return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        with self._lock:
            _, previous, previous_ttl, current, current_ttl = self._window(key, expiry, time.time())
        return previous, previous_ttl, current, current_ttl

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, time.time()):
            self.clear(window_key)


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
