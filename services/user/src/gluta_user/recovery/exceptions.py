"""Errors of account recovery."""

from gluta_kit.errors import AppError


class InvalidResetToken(AppError):
    status, code, title = 400, "INVALID_TOKEN", "This reset link is invalid, used or expired"
