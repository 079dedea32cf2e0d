"""The cart: lines checked against the product snapshot, never against the product service itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from gluta_kit.db import Database, insert_ignore
from gluta_kit.uow import UnitOfWork
from gluta_order.cart.exceptions import CartItemNotFound, CartLineTooLarge
from gluta_order.cart.models import CartItem
from gluta_order.cart.schemas import MAX_LINE_QUANTITY, CartItemRead, CartRead
from gluta_order.common import recall_answer
from gluta_order.snapshot.exceptions import OutOfStock, ProductUnknown
from gluta_order.snapshot.models import ProductSnapshot
from gluta_order.snapshot.reader import ProductReader
from gluta_order.snapshot.service import with_read_through

ADD_SCOPE = "cart-add"


def _item(row: CartItem, product: ProductSnapshot | None) -> CartItemRead:
    available = bool(product and product.on_sale and row.quantity <= product.quantity)
    unit_price = product.unit_price if product else 0
    return CartItemRead(cart_item_id=row.id, product_id=row.product_id, name=product.name if product else "",
                        thumbnail_url=product.thumbnail_url if product else None, unit_price=unit_price,
                        quantity=row.quantity, line_total=unit_price * row.quantity, available=available)


def _check_stock(product: ProductSnapshot | None, product_id: int, wanted: int) -> ProductSnapshot:
    if product is None:
        raise ProductUnknown([product_id])
    if not product.on_sale:
        raise OutOfStock("this product is not on sale")
    if wanted > product.quantity:
        raise OutOfStock(f"only {product.quantity} left")
    return product


async def get_cart(db: Database, member_id: int) -> CartRead:
    """Return the member's cart."""
    async with db.read_sessions() as session:
        rows = (await session.execute(
            select(CartItem, ProductSnapshot)
            .join(ProductSnapshot, ProductSnapshot.product_id == CartItem.product_id, isouter=True)
            .where(CartItem.member_id == member_id).order_by(CartItem.id)
        )).all()
    items = [_item(item, product) for item, product in rows]
    return CartRead(items=items, total=sum(i.line_total for i in items if i.available))


async def add_item(*, uow_factory: Any, db: Database, member_id: int, product_id: int, quantity: int,
                   now: datetime, products: ProductReader, key: str | None = None) -> dict[str, Any]:
    """Add units of a product to the member's line of it, within the last known stock.

    A product the snapshot does not know yet is read through from the product service first.
    """
    if key:
        first = await recall_answer(db, ADD_SCOPE, member_id, key)
        if first is not None:
            return first
    try:
        return await with_read_through(
            lambda: _add(uow_factory=uow_factory, member_id=member_id, product_id=product_id, quantity=quantity,
                         now=now, key=key),
            reader=products, uow_factory=uow_factory)
    except IntegrityError:
        if key:
            stored = await recall_answer(db, ADD_SCOPE, member_id, key)
            if stored is not None:
                return stored
        raise


async def _add(*, uow_factory: Any, member_id: int, product_id: int, quantity: int, now: datetime,
           key: str | None) -> dict[str, Any]:
    uow: UnitOfWork = uow_factory()
    async with uow:
        product = _check_stock(await uow.session.get(ProductSnapshot, product_id), product_id, quantity)
        await uow.session.execute(insert_ignore(CartItem.__table__, uow.db.dialect, {
            "member_id": member_id, "product_id": product_id, "quantity": 0, "created_at": now,
            "updated_at": now}))
        new_quantity = CartItem.quantity + quantity
        result = await uow.session.execute(
            update(CartItem)
            .where(CartItem.member_id == member_id, CartItem.product_id == product_id,
                   new_quantity <= product.quantity, new_quantity <= MAX_LINE_QUANTITY)
            .values(quantity=new_quantity, updated_at=now)
        )
        if result.rowcount != 1:
            held = await uow.session.scalar(select(CartItem.quantity).where(
                CartItem.member_id == member_id, CartItem.product_id == product_id))
            if (held or 0) + quantity > MAX_LINE_QUANTITY:
                raise CartLineTooLarge()
            raise OutOfStock(f"only {product.quantity} left and {held or 0} are in your cart")
        row = (await uow.session.scalars(
            select(CartItem).where(CartItem.member_id == member_id, CartItem.product_id == product_id)
            .execution_options(populate_existing=True))).one()
        answer = _item(row, product).model_dump(by_alias=True, mode="json")
        if key:
            uow.remember(ADD_SCOPE, member_id, key, answer)
        await uow.commit()
        return answer


async def set_quantity(*, uow_factory: Any, member_id: int, cart_item_id: int, quantity: int,
                       now: datetime, products: ProductReader) -> CartItemRead:
    """Change the quantity of one of the member's cart lines, within the last known stock."""
    async def work() -> CartItemRead:
        uow: UnitOfWork = uow_factory()
        async with uow:
            row = await uow.session.scalar(select(CartItem).where(CartItem.id == cart_item_id,
                                                                   CartItem.member_id == member_id))
            if row is None:
                raise CartItemNotFound()
            product = _check_stock(await uow.session.get(ProductSnapshot, row.product_id), row.product_id, quantity)
            row.quantity = quantity
            row.updated_at = now
            answer = _item(row, product)
            await uow.commit()
        return answer

    return await with_read_through(work, reader=products, uow_factory=uow_factory)


async def remove_item(*, uow: UnitOfWork, member_id: int, cart_item_id: int) -> None:
    """Remove one of the member's cart lines."""
    async with uow:
        result = await uow.session.execute(delete(CartItem).where(CartItem.id == cart_item_id,
                                                                  CartItem.member_id == member_id))
        if result.rowcount != 1:
            raise CartItemNotFound()
        await uow.commit()
