"""Token buckets per client, in this process's memory.

A member is counted by its token's subject, a guest by its address, so thousands of members behind
one address (an office, a mobile carrier's NAT) each get their own budget. The buckets live in one
gateway process: with N gateway instances behind a load balancer a client may get up to N times the
rate. That is the accepted trade-off: a shared store (Redis) would add a network round trip to every
request for a limit whose job is to stop floods, not to meter precisely.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from gluta_gateway.settings import GatewaySettings


class TokenBuckets:
    """Buckets of `burst` tokens refilled at `rate` per second; one token per request."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 sweep_every: float = 30.0) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, updated_at]
        self._sweep_every = sweep_every
        self._swept_at = clock()

    def configure(self, rate: float, burst: int) -> None:
        """Change the rate and burst; existing buckets keep their tokens (capped at the new burst)."""
        self.rate = rate
        self.burst = float(burst)
        for bucket in self._buckets.values():
            bucket[0] = min(bucket[0], self.burst)

    def take(self, key: str) -> float:
        """Take one token for `key`; return 0 when allowed, else the seconds until a token is back."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if now - self._swept_at > self._sweep_every:
                self._sweep(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        """Forget buckets that have refilled completely: they hold nothing a new bucket would not."""
        full_after = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < full_after}
        self._swept_at = now

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_seconds(wait: float) -> int:
    """Return a Retry-After value (whole seconds, at least 1) for a wait in seconds."""
    return max(1, math.ceil(wait))


class RateLimiter:
    """The member and guest buckets, configured from settings (and reconfigured on reload)."""

    def __init__(self, *, enabled: bool, member_rate: float, member_burst: int, guest_rate: float,
                 guest_burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.members = TokenBuckets(member_rate, member_burst, clock=clock)
        self.guests = TokenBuckets(guest_rate, guest_burst, clock=clock)

    @classmethod
    def from_settings(cls, settings: GatewaySettings, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
        """Build the limiter from gateway settings."""
        return cls(enabled=settings.rate_limit_enabled,
                   member_rate=settings.rate_limit_member_per_second, member_burst=settings.rate_limit_member_burst,
                   guest_rate=settings.rate_limit_guest_per_second, guest_burst=settings.rate_limit_guest_burst,
                   clock=clock)

    def configure(self, settings: GatewaySettings) -> None:
        """Apply the rate-limit settings in force (after a configuration reload)."""
        self.enabled = settings.rate_limit_enabled
        self.members.configure(settings.rate_limit_member_per_second, settings.rate_limit_member_burst)
        self.guests.configure(settings.rate_limit_guest_per_second, settings.rate_limit_guest_burst)

    def check_member(self, subject: str) -> float:
        """Count a request of an authenticated caller; return the wait (0 = allowed)."""
        return self.members.take(subject) if self.enabled else 0.0

    def check_guest(self, address: str) -> float:
        """Count a request of an anonymous caller; return the wait (0 = allowed)."""
        return self.guests.take(address) if self.enabled else 0.0
