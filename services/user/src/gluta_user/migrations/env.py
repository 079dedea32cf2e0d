"""Alembic environment of the user service; the kit hands over the connection."""

from gluta_kit.db import run_alembic_env
from gluta_user.models import metadata

run_alembic_env(metadata)
