"""Read the coupon form into a `CouponWrite` body, with the admin's mistakes by field."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gluta_admin.web import _, form_int, form_text

ZONE = ZoneInfo("Asia/Seoul")
MAX_AMOUNT = 100_000_000


def parse_local_time(text: str) -> datetime | None:
    """Read a `datetime-local` value as Korean time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZONE)


def parse_coupon(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the body to send and the problems found, by field name."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"name": form_text(form, "name", 100), "description": form_text(form, "description", 500)}
    if not body["name"]:
        errors["name"] = _("Enter the coupon name.")
    kind = form_text(form, "discountType", 10)
    if kind not in ("FIXED", "PERCENT"):
        errors["discountType"] = _("Choose a fixed amount or a percentage.")
    body["discountType"] = kind
    value = form_int(form, "discountValue")
    if kind == "PERCENT" and (value is None or not 1 <= value <= 100):
        errors["discountValue"] = _("A percentage is from 1 to 100.")
    elif kind == "FIXED" and (value is None or not 1 <= value <= MAX_AMOUNT):
        errors["discountValue"] = _("Enter an amount of won from 1.")
    body["discountValue"] = value
    for name in ("maxDiscount", "minOrderAmount", "productId", "quantity"):
        raw = form_text(form, name, 40)
        number = form_int(form, name)
        if raw and (number is None or number < (1 if name in ("productId", "quantity") else 0)
                    or number > MAX_AMOUNT):
            errors[name] = _("Enter a whole number, or leave it empty.")
        body[name] = number if raw else None
    if kind == "FIXED":
        body["maxDiscount"] = None  # a cap only means something for a percentage
    for name in ("startsAt", "endsAt"):
        raw = form_text(form, name, 40)
        moment = parse_local_time(raw) if raw else None
        if raw and moment is None:
            errors[name] = _("Enter a date and time.")
        body[name] = moment.isoformat() if moment else None
    if body["startsAt"] and body["endsAt"] and body["startsAt"] >= body["endsAt"]:
        errors["endsAt"] = _("The end must come after the start.")
    return body, errors
