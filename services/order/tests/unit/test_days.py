"""Sales days follow Korean time, and dashboard ranges default to the last 30 days, both ends included."""

from datetime import UTC, date, datetime

import pytest

from gluta_order.common import sales_date, seoul_day_start
from gluta_order.dashboard.service import BadRange, resolve_range


def test_the_korean_day_starts_at_15_00_utc() -> None:
    assert sales_date(datetime(2026, 11, 23, 14, 59, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert sales_date(datetime(2026, 11, 23, 15, 0, 0, tzinfo=UTC)) == date(2026, 11, 24)
    assert seoul_day_start(date(2026, 11, 24)) == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_default_range_is_the_last_30_korean_days() -> None:
    late_evening_utc = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # already the 24th in Seoul
    assert resolve_range(None, None, late_evening_utc) == (date(2026, 10, 26), date(2026, 11, 24))
    assert resolve_range(date(2026, 1, 1), None, late_evening_utc) == (date(2026, 1, 1), date(2026, 1, 30))
    assert resolve_range(None, date(2026, 3, 1), late_evening_utc) == (date(2026, 1, 31), date(2026, 3, 1))
    assert resolve_range(date(2026, 3, 1), date(2026, 3, 1), late_evening_utc) == (date(2026, 3, 1), date(2026, 3, 1))


def test_bad_ranges_are_refused() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    with pytest.raises(BadRange):
        resolve_range(date(2026, 3, 2), date(2026, 3, 1), now)
    with pytest.raises(BadRange):
        resolve_range(date(2024, 1, 1), date(2026, 1, 1), now)
