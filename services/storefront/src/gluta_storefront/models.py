"""The storefront's own tables: only the web sessions (the kit's `web_session`)."""

from sqlalchemy import MetaData

from gluta_kit.web.session import session_table

metadata = MetaData()
sessions = session_table(metadata)
