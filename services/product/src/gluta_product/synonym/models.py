"""Search synonyms the admins keep."""

from __future__ import annotations

from sqlalchemy.orm import Mapped, mapped_column

from gluta_product.models import Base, exact_string


class SearchSynonym(Base):
    """A query word `term` also finds `synonym` (one way; an entry of the other way makes it two-way)."""

    __tablename__ = "search_synonym"

    term: Mapped[str] = mapped_column(exact_string(50), primary_key=True)
    synonym: Mapped[str] = mapped_column(exact_string(50), primary_key=True)
