"""Errors of admin accounts."""

from gluta_kit.errors import Conflict


class AdminExists(Conflict):
    code, title = "ADMIN_EXISTS", "An admin with this login id exists"
