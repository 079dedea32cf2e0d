"""Alembic environment of the storefront; the kit hands over the connection."""

from gluta_kit.db import run_alembic_env
from gluta_storefront.models import metadata

run_alembic_env(metadata)
