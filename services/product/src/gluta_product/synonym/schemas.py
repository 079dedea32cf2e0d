"""Synonym schemas: one entry is a query word and the words it also finds."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from gluta_product.catalog.search import compact
from gluta_product.schemas import CamelModel


def clean_word(value: str) -> str:
    """Return a synonym word as queries see it (spacing-free, lower case); refuse an empty one."""
    word = compact(value)
    if not word:
        raise ValueError("a synonym word needs at least one letter")
    if len(word) > 50:
        raise ValueError("a synonym word has at most 50 characters")
    return word


SynonymWord = Annotated[str, Field(max_length=100), AfterValidator(clean_word)]


class SynonymEntry(CamelModel):
    """A query word `term` also finds each of `synonyms` (one way)."""

    term: SynonymWord
    synonyms: list[SynonymWord] = Field(min_length=1, max_length=20)


class SynonymList(CamelModel):
    items: list[SynonymEntry] = Field(max_length=2000)
