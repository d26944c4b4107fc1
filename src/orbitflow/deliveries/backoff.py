"""When to try again: capped exponential back-off with jitter, about a day in all."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

# Delay before retry n (n = 1 after the first attempt). The first retry comes within a
# minute even with the jitter; the ten attempts span about a day (23.6 h without jitter).
RETRY_DELAYS_SECONDS = (30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800)
MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS) + 1
JITTER = 0.2


def next_attempt_after(attempts_made: int, now: datetime, *, rng: random.Random | None = None) -> datetime | None:
    """When to try again after ``attempts_made`` attempts, or None when none are left."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS_SECONDS[min(attempts_made, len(RETRY_DELAYS_SECONDS)) - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return now + timedelta(seconds=base * factor)
