"""Cart errors."""

from gluta_kit.errors import AppError


class CartItemNotFound(AppError):
    status, code, title = 404, "CART_ITEM_NOT_FOUND", "No such cart item"


class CartLineTooLarge(AppError):
    status, code, title = 422, "VALIDATION_ERROR", "A cart line holds at most 1,000 units"
