"""Alembic environment of the admin service; the kit hands over the connection."""

from gluta_admin.models import metadata
from gluta_kit.db import run_alembic_env

run_alembic_env(metadata)
