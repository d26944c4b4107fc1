"""Limits on sign-in attempts, counted in the app's rate-limit store.

Three counters, all checked before any password is verified, so a refused attempt costs
no argon2 time:

- per client address: every attempt (``orbitflow.signin_limit.address``);
- per subscription ID: every attempt (``orbitflow.signin_limit.subscription``), against
  guessing spread over many addresses;
- per account *and* address: failures (``orbitflow.lockout_threshold`` within
  ``orbitflow.lockout_minutes``) lock that account for that address only, so a stranger's
  failures never lock the real user out from their own address.

Keys are built from what was typed, never from what exists: an unknown account is limited
and locked exactly like a real one, and the answers cannot tell them apart. Attempts are
counted before the password is checked (atomically, in the store), so parallel requests
cannot slip past a limit; a successful sign-in clears the account's failures.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, parse

from orbitflow.config import Settings, get_settings
from orbitflow.ratelimit import RateLimiter, parse_limit_setting, rate_limiter
from orbitflow.shared import provide, shared

DEFAULT_ADDRESS_LIMIT = "20/minute;100/hour"
DEFAULT_SUBSCRIPTION_LIMIT = "100/minute;1000/hour"
# A flood of refused attempts leaves one audit entry per key and minute, not one per request.
REFUSAL_AUDIT_LIMIT = parse("1/minute")

ACCOUNT = "account"
ADDRESS = "address"
SUBSCRIPTION = "subscription"


@dataclass(frozen=True)
class Attempt:
    """The counter keys of one sign-in attempt."""

    address: str
    subscription: str
    account: str


@dataclass(frozen=True)
class Refusal:
    reason: str  # ACCOUNT (locked), ADDRESS or SUBSCRIPTION
    retry_after: int


class SignInGuard:
    def __init__(
        self,
        limiter: RateLimiter,
        *,
        address: list[RateLimitItem],
        subscription: list[RateLimitItem],
        lockout_threshold: int,
        lockout_seconds: int,
    ):
        self.limiter = limiter
        self.address = address
        self.subscription = subscription
        self.lockout_seconds = lockout_seconds
        minutes = max(1, lockout_seconds // 60)
        self.failures = parse(f"{lockout_threshold}/{minutes} minutes")
        # A lock is a fixed window of one hit: it lasts exactly lockout_seconds.
        self.lock = parse(f"1/{minutes} minutes")

    @classmethod
    def from_settings(cls, limiter: RateLimiter, settings: Settings) -> SignInGuard:
        ini = settings.extra
        return cls(
            limiter,
            address=parse_limit_setting(
                "orbitflow.signin_limit.address", ini.get("orbitflow.signin_limit.address"), DEFAULT_ADDRESS_LIMIT
            ),
            subscription=parse_limit_setting(
                "orbitflow.signin_limit.subscription",
                ini.get("orbitflow.signin_limit.subscription"),
                DEFAULT_SUBSCRIPTION_LIMIT,
            ),
            lockout_threshold=settings.lockout_threshold,
            lockout_seconds=settings.lockout_seconds,
        )

    def attempt(self, subscription_id: str, username: str, address: str) -> Attempt:
        subscription = subscription_id.strip().lower()
        key = self.limiter.key
        return Attempt(
            address=key("address", address),
            subscription=key("subscription", subscription),
            account=key("account", subscription, username.strip().lower(), address),
        )

    def admit(self, attempt: Attempt) -> Refusal | None:
        """Count the attempt, or refuse it (then nothing is counted and nothing verified)."""
        checks = (
            (ACCOUNT, [self.lock], "signin-lock", attempt.account, True),
            (ACCOUNT, [self.failures], "signin-failures", attempt.account, True),
            (ADDRESS, self.address, "signin-address", attempt.address, False),
            (SUBSCRIPTION, self.subscription, "signin-subscription", attempt.subscription, False),
        )
        for reason, items, scope, key, fixed in checks:
            verdict = self.limiter.test(items, scope, key, fixed=fixed)
            if not verdict.allowed:
                return Refusal(reason, verdict.retry_after)
        # Counted before the password is checked: parallel attempts cannot all pass.
        for reason, items, scope, key, fixed in checks[1:]:
            verdict = self.limiter.hit(items, scope, key, fixed=fixed)
            if not verdict.allowed:
                return Refusal(reason, verdict.retry_after)
        return None

    def failed(self, attempt: Attempt) -> tuple[bool, bool]:
        """After a failed attempt: (is the account now locked for this address, did this
        attempt lock it)."""
        if self.limiter.remaining(self.failures, "signin-failures", attempt.account, fixed=True) > 0:
            return False, False
        first = self.limiter.hit([self.lock], "signin-lock", attempt.account, fixed=True).allowed
        return True, first

    def succeeded(self, attempt: Attempt) -> None:
        self.limiter.clear(self.failures, "signin-failures", attempt.account, fixed=True)

    def audit_refusal(self, attempt: Attempt, reason: str) -> bool:
        """Should this refusal be audited? Once per key and minute."""
        key = attempt.account if reason == ACCOUNT else getattr(attempt, reason)
        return self.limiter.hit([REFUSAL_AUDIT_LIMIT], "signin-refusal-audit", reason, key).allowed


def wait_message(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many sign-in attempts. Try again in {minutes} {unit}."


def signin_guard(registry) -> SignInGuard:
    return shared(registry, SignInGuard)


def includeme(config) -> None:
    registry = config.registry
    provide(registry, SignInGuard.from_settings(rate_limiter(registry), get_settings(registry)))
