from sqlalchemy import MetaData

from gluta_kit.db import run_alembic_env

run_alembic_env(MetaData())
