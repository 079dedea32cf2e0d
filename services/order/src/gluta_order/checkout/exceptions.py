"""Checkout errors."""

from gluta_kit.errors import AppError


class OrderNotFound(AppError):
    status, code, title = 404, "ORDER_NOT_FOUND", "No such order"


class NotCancellable(AppError):
    status, code, title = 409, "NOT_CANCELLABLE", "This order cannot be cancelled"


class CartEmpty(AppError):
    status, code, title = 422, "CART_EMPTY", "The cart is empty"
