"""Alembic environment of the order service; the kit hands over the connection."""

from gluta_kit.db import run_alembic_env
from gluta_order.models import metadata

run_alembic_env(metadata)
