"""The admin service's tables: only the web sessions (created by the kit's helper in a migration)."""

from sqlalchemy import MetaData

metadata = MetaData()
