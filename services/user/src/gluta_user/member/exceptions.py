"""Errors of sign-up and profile changes."""

from gluta_kit.errors import Conflict


class LoginIdTaken(Conflict):
    code, title = "LOGIN_ID_TAKEN", "This login id is taken"


class EmailTaken(Conflict):
    code, title = "EMAIL_TAKEN", "This email belongs to another member"
