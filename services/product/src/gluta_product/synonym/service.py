"""Synonyms: the admins' list, and the lookup every search makes. Knows nothing of HTTP."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.uow import UnitOfWork
from gluta_product.synonym.models import SearchSynonym
from gluta_product.synonym.schemas import SynonymEntry, SynonymList


async def synonyms_for(session: AsyncSession, words: list[str]) -> dict[str, list[str]]:
    """Return the synonyms of the given query words (an indexed lookup per search: always current)."""
    if not words:
        return {}
    found: dict[str, list[str]] = defaultdict(list)
    for term, synonym in await session.execute(
            select(SearchSynonym.term, SearchSynonym.synonym).where(SearchSynonym.term.in_(words))
            .order_by(SearchSynonym.term, SearchSynonym.synonym)):
        found[term].append(synonym)
    return dict(found)


async def list_synonyms(session: AsyncSession) -> SynonymList:
    """Return every synonym entry, by term."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for term, synonym in await session.execute(
            select(SearchSynonym.term, SearchSynonym.synonym).order_by(SearchSynonym.term, SearchSynonym.synonym)):
        grouped[term].append(synonym)
    return SynonymList(items=[SynonymEntry(term=t, synonyms=s) for t, s in grouped.items()])


async def replace_synonyms(uow: UnitOfWork, entries: SynonymList) -> SynonymList:
    """Replace the whole synonym list in one transaction (entries of the same term are merged)."""
    pairs = sorted({(e.term, s) for e in entries.items for s in e.synonyms if s != e.term})
    async with uow:
        await uow.session.execute(delete(SearchSynonym))
        if pairs:
            await uow.session.execute(insert(SearchSynonym), [{"term": t, "synonym": s} for t, s in pairs])
        result = await list_synonyms(uow.session)
        await uow.commit()
    return result
