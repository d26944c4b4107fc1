"""The in-process rate-limit store (``memory://``): the ``limits`` strategies count in it as
in the library's own memory storage, atomically between threads, without a thread per hit,
and expired counters do not pile up."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, SlidingWindowCounterRateLimiter

from orbitflow.ratelimit import ProcessMemoryStorage, RateLimiter


def test_the_strategies_count_as_in_the_librarys_memory_storage():
    ours, theirs = ProcessMemoryStorage(), MemoryStorage()
    for strategy_class in (SlidingWindowCounterRateLimiter, FixedWindowRateLimiter):
        item = parse("5/minute")
        ours_strategy, theirs_strategy = strategy_class(ours), strategy_class(theirs)
        seen = [(ours_strategy.hit(item, "k", "1"), theirs_strategy.hit(item, "k", "1")) for _ in range(7)]
        assert seen == [(True, True)] * 5 + [(False, False)] * 2
        assert ours_strategy.test(item, "k", "1") is theirs_strategy.test(item, "k", "1") is False
        assert ours_strategy.get_window_stats(item, "k", "1").remaining == 0
        assert ours_strategy.test(item, "other") is True  # keys count apart
        ours_strategy.clear(item, "k", "1")
        assert ours_strategy.get_window_stats(item, "k", "1").remaining == 5
        assert ours_strategy.hit(item, "k", "1") is True


def test_a_fixed_window_starts_at_its_first_hit_and_expires():
    storage = ProcessMemoryStorage()
    assert storage.incr("lock", 60) == 1
    expires = storage.get_expiry("lock")
    assert storage.incr("lock", 60) == 2
    assert storage.get_expiry("lock") == expires  # later hits do not move the window
    assert storage.incr("gone", -1) == 1  # a window already over
    assert storage.get("gone") == 0
    assert storage.incr("gone", 60) == 1  # and a new one starts
    assert storage.reset() == 2 and storage.get("lock") == 0


def test_expired_counters_are_swept_without_being_read_again():
    storage = ProcessMemoryStorage()
    storage.CLEANUP_SECONDS = 0.0
    for number in range(100):
        storage.incr(f"visitor-{number}", -1)
    storage.incr("live", 60)
    assert storage.reset() == 1  # only the live counter was left


def test_counting_is_atomic_between_threads_and_starts_no_thread():
    limiter = RateLimiter("memory://", "secret")
    item = parse("50/minute")
    # Threads of earlier tests may still be ending: compare which threads exist, not how many.
    before = set(threading.enumerate())
    with ThreadPoolExecutor(8) as pool:
        verdicts = list(pool.map(lambda _: limiter.hit([item], "quiz", "address").allowed, range(160)))
    assert verdicts.count(True) == 50
    with ThreadPoolExecutor(8) as pool:
        verdicts = list(pool.map(lambda _: limiter.hit([item], "lock", "address", fixed=True).allowed, range(160)))
    assert verdicts.count(True) == 50
    for number in range(200):
        limiter.hit([item], "quiz", f"address-{number}")
    assert set(threading.enumerate()) - before == set()
