"""Banner errors."""

from gluta_kit.errors import AppError


class BannerNotFound(AppError):
    status, code, title = 404, "BANNER_NOT_FOUND", "Banner not found"


class InvalidLink(AppError):
    status, code, title = 422, "VALIDATION_ERROR", "Validation failed"
