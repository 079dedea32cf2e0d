"""Synonym routes (admins): read and replace the list queries are expanded with."""

from __future__ import annotations

from fastapi import APIRouter

from gluta_kit.auth import AdminOnly
from gluta_product.deps import ServiceDep
from gluta_product.synonym import service as synonyms
from gluta_product.synonym.schemas import SynonymList

router = APIRouter(tags=["synonyms"])


@router.get("/synonyms", response_model=SynonymList)
async def read(admin: AdminOnly, service: ServiceDep) -> SynonymList:
    """Return every synonym entry."""
    async with service.db.read_sessions() as session:
        return await synonyms.list_synonyms(session)


@router.put("/synonyms", response_model=SynonymList)
async def replace(body: SynonymList, admin: AdminOnly, service: ServiceDep) -> SynonymList:
    """Replace the whole synonym list."""
    return await synonyms.replace_synonyms(service.uow(), body)
