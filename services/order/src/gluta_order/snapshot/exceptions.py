"""Errors about products the order service knows from its snapshot."""

from gluta_kit.errors import AppError


class ProductNotFound(AppError):
    status, code, title = 404, "PRODUCT_NOT_FOUND", "No such product"


class OutOfStock(AppError):
    status, code, title = 409, "OUT_OF_STOCK", "Not enough stock"
