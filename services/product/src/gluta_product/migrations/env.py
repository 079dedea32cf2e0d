"""Alembic environment of the product service; the kit hands over the connection."""

from gluta_kit.db import run_alembic_env
from gluta_product.models import metadata

run_alembic_env(metadata)
