"""Keep the local snapshots of products and members up to date from their events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_contracts import MemberRegistered, MemberUpdated, MemberWithdrawn, ProductChanged
from gluta_kit.db import insert_ignore, retry_transient
from gluta_kit.uow import UnitOfWork
from gluta_order.snapshot.exceptions import ProductNotFound, ProductUnknown
from gluta_order.snapshot.models import MemberSnapshot, ProductSnapshot
from gluta_order.snapshot.reader import Fetched, ProductReader

T = TypeVar("T")

PRODUCT_CONSUMER = "order-product-snapshot"
MEMBER_CONSUMER = "order-member-snapshot"


async def apply_product_changed(*, uow: UnitOfWork, event: ProductChanged) -> None:
    """Store what a ProductChanged says, unless a newer change is already stored."""
    async with uow:
        if not await uow.claim_event(event.event_id, PRODUCT_CONSUMER):
            return
        values = {
            "name": event.name[:200],
            "unit_price": event.unit_price,
            "thumbnail_url": event.thumbnail_url[:500] if event.thumbnail_url else None,
            "on_sale": event.on_sale,
            "quantity": max(0, event.quantity),
            "changed_at": event.occurred_at,
        }
        await _upsert_newer(uow, ProductSnapshot, ProductSnapshot.product_id, event.product_id, values)
        await uow.commit()


async def read_through(*, reader: ProductReader, uow_factory: Callable[[], UnitOfWork],
                       product_ids: Iterable[int]) -> None:
    """Ask the product service for products the copy does not know, and keep what it answers.

    Raises ProductNotFound when the product service says one does not exist, CatalogUnavailable (503) when
    it cannot answer. What is stored carries the time the question was asked as its `changed_at`: an event
    emitted after that may be newer than the answer, so it still applies; older ones do not overwrite it.
    """
    ids = sorted(set(product_ids))
    answers = await asyncio.gather(*(reader.fetch(pid) for pid in ids), return_exceptions=True)
    found = [a for a in answers if isinstance(a, Fetched) and a.facts is not None]
    if found:
        await store_products(uow_factory=uow_factory, fetched=found)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    missing = [a.product_id for a in answers if isinstance(a, Fetched) and a.facts is None]
    if missing:
        raise ProductNotFound(f"product {missing[0]} is not for sale")


async def store_products(*, uow_factory: Callable[[], UnitOfWork], fetched: Iterable[Fetched]) -> None:
    """Keep products read from the product service, unless a newer change is already stored."""
    async def work() -> None:
        async with uow_factory() as uow:
            for answer in fetched:
                product = answer.facts
                assert product is not None
                values = {"name": product.name[:200], "unit_price": product.unit_price,
                          "thumbnail_url": product.thumbnail_url[:500] if product.thumbnail_url else None,
                          "on_sale": product.on_sale, "quantity": max(0, product.quantity),
                          "changed_at": answer.asked_at}
                await _upsert_newer(uow, ProductSnapshot, ProductSnapshot.product_id, product.product_id, values)
            await uow.commit()

    await retry_transient(work)


async def with_read_through(work: Callable[[], Awaitable[T]], *, reader: ProductReader,
                            uow_factory: Callable[[], UnitOfWork]) -> T:
    """Run `work`; if it met products the copy does not know, read them through and run it once more.

    The hot path pays nothing: only a miss (`ProductUnknown`, raised where the copy is read) costs a call
    to the product service, made outside any transaction (no database lock is held while waiting for it).
    """
    try:
        return await work()
    except ProductUnknown as unknown:
        await read_through(reader=reader, uow_factory=uow_factory, product_ids=unknown.product_ids)
    return await work()


async def apply_member_event(*, uow: UnitOfWork, event: MemberRegistered | MemberUpdated | MemberWithdrawn,
                             also: Callable[[UnitOfWork], Awaitable[object]] | None = None) -> None:
    """Store a member's login id and name (or that they withdrew), unless a newer change is already stored.

    `also` runs in the same transaction (the demo grant), so it happens exactly once per event too.
    """
    async with uow:
        if not await uow.claim_event(event.event_id, MEMBER_CONSUMER):
            return
        await upsert_member(uow, event)
        if also is not None:
            await also(uow)
        await uow.commit()


async def upsert_member(uow: UnitOfWork, event: MemberRegistered | MemberUpdated | MemberWithdrawn) -> None:
    """Write one member event into the snapshot, inside the caller's transaction."""
    if isinstance(event, MemberWithdrawn):
        result = await uow.session.execute(
            update(MemberSnapshot)
            .where(MemberSnapshot.member_id == event.member_id)
            .values(withdrawn=True, changed_at=event.occurred_at)
        )
        if not result.rowcount:
            await uow.session.execute(insert_ignore(MemberSnapshot.__table__, uow.db.dialect, {
                "member_id": event.member_id, "login_id": event.login_id[:64], "member_name": "",
                "withdrawn": True, "changed_at": event.occurred_at,
            }))
        return
    values = {"login_id": event.login_id[:64], "member_name": event.member_name[:100], "withdrawn": False,
              "changed_at": event.occurred_at}
    await _upsert_newer(uow, MemberSnapshot, MemberSnapshot.member_id, event.member_id, values,
                        keep_withdrawn=True)


async def _upsert_newer(uow: UnitOfWork, model: type, key_column: object, key: int, values: dict[str, object],
                        keep_withdrawn: bool = False) -> None:
    stmt = update(model).where(key_column == key, model.changed_at <= values["changed_at"])  # type: ignore[attr-defined]
    if keep_withdrawn:
        # a late MemberUpdated never brings a withdrawn member back
        stmt = stmt.where(model.withdrawn.is_(False))  # type: ignore[attr-defined]
    result = await uow.session.execute(stmt.values(**values))
    if result.rowcount:
        return
    row = {key_column.key: key, **values}  # type: ignore[attr-defined]
    await uow.session.execute(insert_ignore(model.__table__, uow.db.dialect, row))  # type: ignore[attr-defined]


async def products_by_id(session: AsyncSession, product_ids: Iterable[int]) -> dict[int, ProductSnapshot]:
    """Return the snapshots of the given products that are known."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    rows = (await session.scalars(select(ProductSnapshot).where(ProductSnapshot.product_id.in_(ids)))).all()
    return {row.product_id: row for row in rows}


async def members_by_id(session: AsyncSession, member_ids: Iterable[int]) -> dict[int, MemberSnapshot]:
    """Return the snapshots of the given members that are known."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    rows = (await session.scalars(select(MemberSnapshot).where(MemberSnapshot.member_id.in_(ids)))).all()
    return {row.member_id: row for row in rows}
