"""Errors of login and tokens."""

from gluta_kit.errors import AppError, InvalidToken


class InvalidCredentials(AppError):
    status, code, title = 401, "INVALID_CREDENTIALS", "Wrong login id or password"


class InvalidRefreshToken(InvalidToken):
    """A refresh token that is unknown, expired, used or revoked (401 INVALID_TOKEN)."""

    title = "Invalid or expired refresh token"


class SessionEnded(InvalidToken):
    """A valid signature whose session ended: the member withdrew or reset the password."""

    title = "This session has ended"
