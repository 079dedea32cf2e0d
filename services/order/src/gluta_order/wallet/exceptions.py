"""Pay money errors."""

from gluta_kit.errors import AppError


class InsufficientPayMoney(AppError):
    status, code, title = 402, "INSUFFICIENT_PAY_MONEY", "Not enough pay money"


class PaymentNotVerified(AppError):
    status, code, title = 402, "PAYMENT_NOT_VERIFIED", "The payment provider did not confirm this payment"


class PaymentAlreadyUsed(AppError):
    status, code, title = 409, "PAYMENT_ALREADY_USED", "This payment was already credited"


class PaymentIdRequired(AppError):
    status, code, title = 422, "VALIDATION_ERROR", "paymentId is required"
