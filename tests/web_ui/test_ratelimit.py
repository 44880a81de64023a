from __future__ import annotations

from web_ui.ratelimit import LoginLimiter


def test_failures_lock_the_pair_then_the_address_and_expire() -> None:
    now = [0.0]
    limiter = LoginLimiter(max_failures=3, ip_max_failures=5, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("ana", "1.2.3.4") is None
        limiter.failed("Ana", "1.2.3.4")  # usernames are case-insensitive
        now[0] += 1
    wait = limiter.retry_after("ana", "1.2.3.4")
    assert wait is not None
    assert 56 < wait <= 60
    assert limiter.retry_after("ana", "5.6.7.8") is None
    assert limiter.retry_after("ben", "1.2.3.4") is None
    limiter.failed("ben", "1.2.3.4")
    limiter.failed("cy", "1.2.3.4")
    assert limiter.retry_after("dora", "1.2.3.4") is not None  # 5 from the address
    now[0] += 61
    assert limiter.retry_after("ana", "1.2.3.4") is None


def test_success_clears_only_that_users_failures() -> None:
    now = [0.0]
    limiter = LoginLimiter(max_failures=2, ip_max_failures=3, window_s=60, clock=lambda: now[0])
    limiter.failed("ana", "ip")
    limiter.succeeded("ana", "ip")
    limiter.failed("ana", "ip")
    assert limiter.retry_after("ana", "ip") is None
    limiter.failed("ben", "ip")
    assert limiter.retry_after("ana", "ip") is not None  # the address has 3 now


def test_memory_is_bounded() -> None:
    limiter = LoginLimiter(max_keys=100)
    for n in range(1000):
        limiter.failed(f"user{n}", f"10.0.{n // 256}.{n % 256}")
    assert len(limiter._failures) <= 100
