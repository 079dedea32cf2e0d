"""Sessions in a local SQLite file through sqlite3 (no SQLAlchemy in the process): same table and behaviour."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from gluta_kit.sqlite import SqliteFile, sqlite_path
from gluta_kit.web import SqliteSessionStore, database_session_store
from gluta_kit.web.session import session_table


@pytest.fixture
def db(tmp_path: Path) -> SqliteFile:
    path = tmp_path / "web.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    session_table(sa.MetaData()).metadata.create_all(engine)  # the table `create_session_table` makes
    engine.dispose()
    return SqliteFile(f"sqlite+aiosqlite:///{path}")


def test_only_plain_sqlite_file_urls_qualify(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert sqlite_path("sqlite+aiosqlite:///var/db/x.db") == Path("var/db/x.db")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("mysql://root@db/x") is None
    with pytest.raises(ValueError):
        SqliteFile("postgresql://db/x")


async def test_save_load_replace_delete(db: SqliteFile) -> None:
    store = database_session_store(db)
    assert isinstance(store, SqliteSessionStore)
    assert await store.load("s1") is None
    await store.save("s1", {"a": 1}, 60)
    await store.save("s1", {"a": 2, "b": [1, "두"]}, 60)
    assert await store.load("s1") == {"a": 2, "b": [1, "두"]}
    await store.delete("s1")
    assert await store.load("s1") is None
    await db.ping()
    await db.dispose()


async def test_expired_sessions_are_not_loaded_and_are_purged(db: SqliteFile) -> None:
    store = SqliteSessionStore(db, purge_every=3)
    await store.save("old", {"x": 1}, -1)
    await store.save("new", {"x": 2}, 60)
    assert await store.load("old") is None
    assert await store.purge_expired() == 1
    await store.save("old2", {"x": 3}, -1)
    await store.save("new", {"x": 4}, 60)  # the third save purges
    rows = await db.run(lambda conn: conn.execute("SELECT session_id FROM web_session").fetchall())
    assert rows == [("new",)]
    await db.dispose()
