"""The product service's figures for `gluta check`, computed over its own database in one snapshot.

Stock, per product (deleted ones included: a cancelled order still gives their units back):

    quantity + units held by pending reservations == received − units sold

`received` is every unit an administrator put on the shelf (create, and the difference of each edit); a
reservation takes units off the shelf (RESERVED), a confirmed order's units are then counted as sold
(`sales_state` COUNTED), a release puts them back (RELEASED, and the sale is reversed if it was counted).
So a reservation RESERVED and not yet counted is "pending": its units are neither on the shelf nor sold.
Units sold must also equal the units of the counted reservations, and no quantity may be negative.

For the checks across services, the answer also carries the units sold per product and the ids of the
orders whose stock is held (counted or pending); `gluta check` compares them with the order service's
confirmed and pending orders.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import func, select

from gluta_kit.db import Database
from gluta_product.catalog.models import Product
from gluta_product.stock.models import RESERVED, SALES_COUNTED, StockReservation

SHOWN = 20  # problems listed by name; the rest are counted


async def stock_figures(db: Database) -> dict[str, Any]:
    """Return the `stock` invariant and the per-product / per-order figures other checks compare."""
    async with db.consistent_reads() as conn:
        products = (await conn.execute(select(Product.id, Product.quantity, Product.received, Product.units_sold,
                                              Product.deleted_at.is_not(None)).order_by(Product.id))).all()
        held = (await conn.execute(select(StockReservation.order_id, StockReservation.sales_state,
                                          StockReservation.lines)
                                   .where(StockReservation.status == RESERVED))).all()
        by_status = dict((await conn.execute(select(StockReservation.status, func.count())
                                             .group_by(StockReservation.status))).all())
    pending: dict[int, int] = defaultdict(int)
    counted: dict[int, int] = defaultdict(int)
    counted_orders: list[int] = []
    pending_orders: list[int] = []
    for order_id, sales_state, lines in held:
        target, ids = (counted, counted_orders) if sales_state == SALES_COUNTED else (pending, pending_orders)
        ids.append(int(order_id))
        for line in orjson.loads(lines):
            target[int(line["productId"])] += int(line["quantity"])
    problems: list[str] = []
    totals = {"products": len(products), "deleted": 0, "onShelf": 0, "reserved": 0, "received": 0, "sold": 0}
    units_sold: dict[str, int] = {}
    for product_id, quantity, received, sold, deleted in products:
        reserved = pending.get(product_id, 0)
        totals["deleted"] += int(bool(deleted))
        totals["onShelf"] += quantity
        totals["reserved"] += reserved
        totals["received"] += received
        totals["sold"] += sold
        if sold:
            units_sold[str(product_id)] = int(sold)
        if quantity < 0:
            problems.append(f"product {product_id}: quantity {quantity} is negative")
        if quantity + reserved != received - sold:
            problems.append(f"product {product_id}: on shelf {quantity} + reserved {reserved} = {quantity + reserved}"
                            f" but received {received} − sold {sold} = {received - sold}")
        if sold != counted.get(product_id, 0):
            problems.append(f"product {product_id}: units sold {sold} but confirmed reservations hold "
                            f"{counted.get(product_id, 0)}")
    known = {row[0] for row in products}
    for product_id in sorted((set(pending) | set(counted)) - known):
        problems.append(f"product {product_id}: reserved by orders but does not exist")
    summary = (f"{totals['products']} products: on shelf {totals['onShelf']:,} + reserved {totals['reserved']:,}"
               f" = received {totals['received']:,} − sold {totals['sold']:,}")
    return {
        "stock": {"ok": not problems, "summary": summary, "figures": totals, "problems": problems[:SHOWN],
                  "problemCount": len(problems)},
        "unitsSold": units_sold,
        "reservations": {"counted": sorted(counted_orders), "pending": sorted(pending_orders),
                         "byStatus": {str(k): int(v) for k, v in by_status.items()}},
    }
