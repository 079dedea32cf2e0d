"""Alembic environment for the kit's own tables (outbox, inbox, dead letters, idempotency keys)."""

from gluta_kit.db import run_alembic_env
from gluta_kit.models import kit_metadata

run_alembic_env(kit_metadata)
