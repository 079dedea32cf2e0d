"""Catalog schemas: ProductWrite, ProductSummary, ProductDetail, types and styles."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from gluta_product.catalog.search import has_control_characters
from gluta_product.schemas import MAX_ID, CamelModel, Page

_SPACES = re.compile(r"\s+")


def clean_style(value: str) -> str:
    """Return a hashtag without its '#', trimmed; refuse empty, long or path-breaking ones."""
    style = _SPACES.sub(" ", value.strip().lstrip("#").strip())
    if not style:
        raise ValueError("a style needs at least one character")
    if len(style) > 30:
        raise ValueError("a style has at most 30 characters")
    if has_control_characters(style):
        raise ValueError("a style cannot contain control characters")
    if "/" in style or "\\" in style:
        raise ValueError("a style cannot contain '/' or '\\'")
    return style


Style = Annotated[str, Field(max_length=40), AfterValidator(clean_style)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class SortOrder(StrEnum):
    relevance = "relevance"
    newest = "newest"
    price_asc = "priceAsc"
    price_desc = "priceDesc"
    name = "name"
    popular = "popular"


class ProductTypeRead(CamelModel):
    product_type_id: int
    type: str


class ProductTypeWrite(CamelModel):
    type: str = Field(min_length=1, max_length=50)


class StyleWrite(CamelModel):
    style: Style


class StyleCount(CamelModel):
    style: str
    product_count: int


class StyleRegistered(CamelModel):
    product_id: int
    style: str
    product_styles: list[str]


class ProductWrite(CamelModel):
    """What an admin sends to create or edit a product; `content` is HTML, sanitised on the way in."""

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    content: str = Field(default="", max_length=100_000)
    product_type_id: Id
    product_styles: list[Style] = Field(default_factory=list, max_length=20)
    unit_price: int = Field(ge=0, le=100_000_000)
    quantity: int = Field(ge=0, le=1_000_000_000)
    image_ids: list[Id] = Field(default_factory=list, max_length=30)
    thumbnail_image_id: Id | None = None

    @field_validator("product_styles")
    @classmethod
    def _distinct_styles(cls, styles: list[str]) -> list[str]:
        return list(dict.fromkeys(styles))

    @field_validator("image_ids")
    @classmethod
    def _distinct_images(cls, ids: list[int]) -> list[int]:
        return list(dict.fromkeys(ids))


class ImageRef(CamelModel):
    image_id: int
    url: str


class ProductSummary(CamelModel):
    product_id: int
    name: str
    description: str
    product_type: ProductTypeRead | None
    product_styles: list[str]
    thumbnail_url: str | None
    unit_price: int
    quantity: int
    sold_out: bool
    like_count: int
    liked: bool
    inquiry_count: int
    created_at: datetime


class ProductDetail(ProductSummary):
    content: str
    images: list[ImageRef]
    thumbnail_image_id: int | None
    units_sold: int


class StyleProducts(CamelModel):
    style: str
    products: list[ProductSummary]


class SearchPage(Page[ProductSummary]):
    """A page of search results; `didYouMean` is the closest query that finds something when none did."""

    did_you_mean: str | None = None


class Suggestion(CamelModel):
    text: str
    product_id: int


class SuggestionList(CamelModel):
    items: list[Suggestion]
