"""Catalog errors."""

from gluta_kit.errors import AppError


class ProductNotFound(AppError):
    status, code, title = 404, "PRODUCT_NOT_FOUND", "Product not found"


class TypeNotFound(AppError):
    status, code, title = 404, "TYPE_NOT_FOUND", "Product type not found"


class TypeExists(AppError):
    status, code, title = 409, "TYPE_EXISTS", "This product type already exists"


class TypeInUse(AppError):
    status, code, title = 409, "TYPE_IN_USE", "Products still use this type"


class StyleNotFound(AppError):
    status, code, title = 404, "STYLE_NOT_FOUND", "The product has no such style"
