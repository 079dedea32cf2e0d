"""The migration creates exactly the tables the models describe, on every dialect."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import gluta_user.admin.models
import gluta_user.auth.models
import gluta_user.member.models
import gluta_user.recovery.models  # noqa: F401  (every model registers its table)
from gluta_user.models import metadata


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "table" and (name.startswith("kit_") or name.endswith("alembic_version")))


async def test_models_match_the_migrated_database(app, client) -> None:
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"include_object": _ours, "compare_type": False})
        return compare_metadata(context, metadata)

    async with app.state.service.db.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
