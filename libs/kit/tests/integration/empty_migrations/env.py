from gluta_kit.db import run_alembic_env
from sqlalchemy import MetaData

run_alembic_env(MetaData())
