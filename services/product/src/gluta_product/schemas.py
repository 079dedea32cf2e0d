"""Schema pieces every feature shares: camelCase models, pages, id and paging parameters."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Header, Path, Query
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

T = TypeVar("T")

MAX_ID = 2**53  # ids beyond this never exist; refusing them keeps drivers from overflowing
IMAGE_URL_PREFIX = "/api/product-service/images"


class CamelModel(BaseModel):
    """A JSON model with camelCase field names that also accepts snake_case from Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, str_strip_whitespace=True)


class Page(CamelModel, Generic[T]):
    """One page of a list: `{items, page, size, total}`."""

    items: list[T]
    page: int
    size: int
    total: int


def image_url(image_id: int | None) -> str | None:
    """Return the public (gateway-relative) URL of an image."""
    return None if image_id is None else f"{IMAGE_URL_PREFIX}/{image_id}"


IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
PageQuery = Annotated[int, Query(ge=1, le=1_000_000)]
SizeQuery = Annotated[int, Query(ge=1, le=100)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=64)]
