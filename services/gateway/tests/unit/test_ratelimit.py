"""Token buckets: bursts, refill, Retry-After and reconfiguration."""

from __future__ import annotations

from gluta_gateway.ratelimit import RateLimiter, TokenBuckets, retry_after_seconds
from gluta_gateway.settings import GatewaySettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_refused_until_tokens_come_back() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("a")
    assert 0.49 < wait <= 0.5
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0


def test_clients_have_their_own_buckets() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, clock=Clock())
    assert buckets.take("member:1") == 0.0
    assert buckets.take("member:1") > 0
    assert buckets.take("member:2") == 0.0


def test_refused_requests_do_not_earn_tokens_and_idle_time_is_capped_at_the_burst() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=2, clock=clock)
    buckets.take("a"), buckets.take("a")
    clock.now += 3600
    assert [buckets.take("a") == 0.0 for _ in range(3)] == [True, True, False]


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_seconds(0.01) == 1
    assert retry_after_seconds(1.0) == 1
    assert retry_after_seconds(1.2) == 2


def test_reconfiguring_changes_rate_and_caps_tokens() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=10, clock=clock)
    buckets.take("a")
    buckets.configure(rate=1.0, burst=1)
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0


def test_full_buckets_are_forgotten() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=10.0, burst=10, clock=clock, sweep_every=1.0)
    for n in range(100):
        buckets.take(f"guest-{n}")
    clock.now += 5
    buckets.take("someone-new")
    assert len(buckets) == 1


async def test_the_defaults_let_five_thousand_members_behind_one_address_claim_at_once() -> None:
    limiter = RateLimiter.from_settings(GatewaySettings.load(config_url=None, discovery_url=None), clock=Clock())
    assert [await limiter.check_member(f"member:{n}") for n in range(5000)] == [0.0] * 5000


async def test_a_disabled_limiter_lets_everything_through() -> None:
    settings = GatewaySettings.load(config_url=None, discovery_url=None, rate_limit_enabled=False,
                                    rate_limit_guest_burst=1)
    limiter = RateLimiter.from_settings(settings, clock=Clock())
    assert [await limiter.check_guest("10.0.0.1") for _ in range(10)] == [0.0] * 10
