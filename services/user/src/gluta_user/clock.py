"""The time the service believes it is: the system clock, or a manual one tests move forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current time (UTC, zone-aware)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        """Return the clock's time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number)."""
        self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """Put the clock at a given time."""
        self._now = when
