"""Token buckets per (license, deployment)."""

from __future__ import annotations

from charter.deployments.ratelimit import Limiter, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_bucket_spends_and_refills() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert 0 < bucket.retry_after() <= 0.5
    clock.t += 0.5  # one token back
    assert bucket.take() and not bucket.take()
    clock.t += 100  # never more than the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_limiter_keys_and_reconfiguration() -> None:
    clock = Clock()
    limiter = Limiter(clock)
    assert limiter.take(("lic", "dep"), None, None) is None  # no limit configured
    assert limiter.take(("lic", "dep"), 1.0, 1) is None
    assert limiter.take(("lic", "dep"), 1.0, 1) is not None
    assert limiter.take(("lic2", "dep"), 1.0, 1) is None  # another license has its own bucket
    assert limiter.take(("lic", "dep"), 5.0, 2) is None  # a new rate builds a new bucket
