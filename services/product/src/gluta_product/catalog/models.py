"""Catalog tables: types, products, their ordered images and their styles (hashtags)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId
from gluta_product.models import Base, PreciseDateTime, exact_string, long_text


class ProductType(Base):
    """A product type (아우터, 상의...)."""

    __tablename__ = "product_type"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(exact_string(50), unique=True)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)


class Product(Base):
    """A product; `search_*` are derived columns the text indexes serve (catalog/search.py)."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    sort_name: Mapped[str] = mapped_column(exact_string(100))
    description: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(long_text())
    product_type_id: Mapped[int | None] = mapped_column(ForeignKey("product_type.id"), nullable=True)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    # every unit an administrator ever put on the shelf (create, and the difference of each edit): with the
    # reservations and units sold it proves the stock (`gluta check`: quantity + reserved == received − sold)
    received: Mapped[int] = mapped_column(BigInteger, server_default="0")
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    units_sold: Mapped[int] = mapped_column(Integer, default=0)
    thumbnail_image_id: Mapped[int | None] = mapped_column(ForeignKey("image.id"), nullable=True)
    search_text: Mapped[str] = mapped_column(long_text(exact=True))
    search_name: Mapped[str] = mapped_column(exact_string(100), default="")
    search_initials: Mapped[str] = mapped_column(exact_string(100), default="")
    search_grams: Mapped[str] = mapped_column(long_text())
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    updated_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)

    # The migration is the truth: partial indexes of live rows on SQLite/PostgreSQL, `deleted_at` first on MariaDB
    # (no `postgresql_where` here: it would load SQLAlchemy's PostgreSQL dialect into every product process).
    __table_args__ = (
        Index("ix_product_created", "created_at", "id", sqlite_where=text("deleted_at IS NULL")),
        Index("ix_product_price", "unit_price", "id", sqlite_where=text("deleted_at IS NULL")),
        Index("ix_product_sort_name", "sort_name", "id", sqlite_where=text("deleted_at IS NULL")),
        Index("ix_product_popular", "units_sold", "like_count", "id", sqlite_where=text("deleted_at IS NULL")),
        Index("ix_product_type", "product_type_id", "created_at", sqlite_where=text("deleted_at IS NULL")),
    )


class ProductImage(Base):
    """An image of a product, in display order."""

    __tablename__ = "product_image"

    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_product_image_image", "image_id"),)


class ProductStyle(Base):
    """A style hashtag registered on a product."""

    __tablename__ = "product_style"

    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    style: Mapped[str] = mapped_column(exact_string(30), primary_key=True)

    __table_args__ = (Index("ix_product_style_style", "style", "product_id"),)




class ProductGram(Base):
    """An index token of a live product: kind letter + gram or word (filled on MariaDB only; catalog/search.py)."""

    __tablename__ = "product_gram"

    gram: Mapped[str] = mapped_column(exact_string(101), primary_key=True)
    # No foreign key: on MariaDB it would add a second index as large as the table.
    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class ProductCounter(Base):
    """A count kept exact in the transactions that change it: `live` = products not deleted (see search)."""

    __tablename__ = "product_counter"

    name: Mapped[str] = mapped_column(exact_string(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class SearchTerm(Base):
    """A word of live product names that a query word may be corrected to (typos, did-you-mean)."""

    __tablename__ = "search_term"

    term: Mapped[str] = mapped_column(exact_string(20), primary_key=True)
    product_count: Mapped[int] = mapped_column(Integer)  # live products whose name has it; 0 rows are kept


class SearchTermKey(Base):
    """A lookup key of a term: its jamo, or its jamo less one letter (words one edit apart share one)."""

    __tablename__ = "search_term_key"

    key: Mapped[str] = mapped_column(exact_string(80), primary_key=True)
    term: Mapped[str] = mapped_column(exact_string(20), primary_key=True)

