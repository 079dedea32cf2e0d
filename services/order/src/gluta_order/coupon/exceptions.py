"""Coupon errors."""

from gluta_kit.errors import AppError


class CouponNotFound(AppError):
    status, code, title = 404, "COUPON_NOT_FOUND", "No such coupon"


class AlreadyIssued(AppError):
    status, code, title = 409, "ALREADY_ISSUED", "You already hold this coupon"


class SoldOut(AppError):
    status, code, title = 410, "SOLD_OUT", "Every copy of this coupon is taken"


class CouponNotActive(AppError):
    status, code, title = 409, "COUPON_NOT_ACTIVE", "This coupon cannot be claimed now"


class CouponNotUsable(AppError):
    status, code, title = 409, "COUPON_NOT_USABLE", "This coupon cannot be used on this order"
