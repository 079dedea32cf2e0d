"""Readable messages for the API's error codes and fields (English ids, translated by the catalogs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gluta_kit.web import ApiError, gettext


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


ERROR_MESSAGES = {
    "LOGIN_ID_TAKEN": N_("This login ID is already taken."),
    "EMAIL_TAKEN": N_("This email address is already registered."),
    "INVALID_CREDENTIALS": N_("The login ID or password is not correct."),
    "INVALID_TOKEN": N_("This link is invalid or has expired. Please ask for a new one."),
    "TOO_MANY_REQUESTS": N_("Too many attempts. Please wait a moment and try again."),
    "PRODUCT_NOT_FOUND": N_("This product is no longer sold."),
    "OUT_OF_STOCK": N_("There is not enough stock for this quantity."),
    "INSUFFICIENT_PAY_MONEY": N_("Your pay money balance is not enough. Please charge it first."),
    "COUPON_NOT_USABLE": N_("This coupon cannot be used for this item."),
    "ALREADY_ISSUED": N_("You already have this coupon."),
    "SOLD_OUT": N_("This coupon is sold out."),
    "COUPON_NOT_ACTIVE": N_("This coupon cannot be claimed right now."),
    "NOT_CANCELLABLE": N_("This order can no longer be cancelled."),
    "PAYMENT_ALREADY_USED": N_("This payment has already been used."),
    "PAYMENT_NOT_VERIFIED": N_("The payment could not be verified."),
    "IDEMPOTENCY_KEY_REQUIRED": N_("The form expired; reload the page and try again."),
    "CSRF_FAILED": N_("The form expired; reload the page and try again."),
    "VALIDATION_ERROR": N_("Please check the highlighted fields."),
    "PAYLOAD_TOO_LARGE": N_("What you sent is too large."),
    "NOT_FOUND": N_("We could not find what you asked for."),
    "UNAUTHORIZED": N_("Please log in."),
    "FORBIDDEN": N_("You are not allowed to do this."),
    "SERVICE_UNAVAILABLE": N_("The shop is busy or under maintenance. Please try again shortly."),
}

FIELD_MESSAGES = {
    "loginId": N_("Use 4 to 20 lowercase letters, digits or underscores."),
    "password": N_("Use 8 to 64 characters with at least one letter and one digit."),
    "newPassword": N_("Use 8 to 64 characters with at least one letter and one digit."),
    "currentPassword": N_("Enter your current password."),
    "memberName": N_("Enter your name."),
    "phoneNumber": N_("Use digits and dashes only."),
    "email": N_("Enter a valid email address."),
    "postNumber": N_("Enter a valid postal code."),
    "address": N_("Enter your address."),
    "addressDetail": N_("Enter the rest of your address."),
    "content": N_("Write between 1 and 2,000 characters."),
    "amount": N_("Charge between 1,000원 and 2,000,000원."),
    "quantity": N_("Choose a quantity of at least 1."),
    "token": N_("This link is invalid or has expired. Please ask for a new one."),
}

# codes that belong to one field of the form that caused them
CODE_FIELDS = {"LOGIN_ID_TAKEN": "loginId", "EMAIL_TAKEN": "email"}

CANCEL_REASONS = {
    "OUT_OF_STOCK": N_("Out of stock"),
    "INSUFFICIENT_PAY_MONEY": N_("Not enough pay money"),
    "CANCELLED_BY_MEMBER": N_("Cancelled by you"),
    "TIMEOUT": N_("Payment timed out"),
}

ORDER_STATUSES = {
    "PENDING": N_("Processing"),
    "CONFIRMED": N_("Confirmed"),
    "CANCELLED": N_("Cancelled"),
}

TRANSACTION_TYPES = {"CHARGE": N_("Charge"), "PAYMENT": N_("Payment"), "REFUND": N_("Refund")}

SORTS = {
    "relevance": N_("Best match"),
    "newest": N_("Newest"),
    "popular": N_("Most popular"),
    "priceAsc": N_("Price: low to high"),
    "priceDesc": N_("Price: high to low"),
    "name": N_("Name"),
}


def error_message(code: str, detail: str = "") -> str:
    """Return the translated message for an API error code."""
    message = ERROR_MESSAGES.get(code)
    if message:
        return gettext(message)
    return gettext(N_("Something went wrong. Please try again."))


@dataclass
class FormErrors:
    """What went wrong with a form: one message for the form, one per field, shown next to it."""

    message: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.message or self.fields)

    def get(self, name: str) -> str | None:
        """Return the message of a field, if any."""
        return self.fields.get(name)


def form_errors(error: ApiError, code_fields: dict[str, str] | None = None) -> FormErrors:
    """Map a problem+json error to messages next to the fields that caused it."""
    fields: dict[str, str] = {}
    for name in error.fields:
        fields[name] = field_message(name.split(".")[-1])
    target = {**CODE_FIELDS, **(code_fields or {})}.get(error.code)
    if target:
        fields[target] = error_message(error.code)
        return FormErrors(None, fields)
    return FormErrors(error_message(error.code, error.detail), fields)


def localized(mapping: dict[str, str], key: Any) -> str:
    """Translate one of the mappings above by key (the key itself when unknown)."""
    message = mapping.get(str(key))
    return gettext(message) if message else str(key or "")


def field_message(name: str) -> str:
    """Return the translated hint for a field that holds a wrong value."""
    message = FIELD_MESSAGES.get(name)
    return gettext(message) if message else gettext(N_("Please check this value."))
