"""Read a product the local copy does not know from the product service itself (the read-through port).

The local copy is filled by `ProductChanged` events; for the moment between a product's creation and its
event's arrival (milliseconds, or as long as the broker is down) it does not know the product. A miss is
then asked of the product service — `GET /products/{id}` through the kit's client: discovery, timeout,
bounded retries on another instance, circuit breaker — so the order service never claims that an existing
product does not exist. Only the product service's own 404 means "no such product".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gluta_kit.errors import ServiceUnavailable
from gluta_kit.http import ServiceClient
from gluta_kit.logging import get_logger
from gluta_kit.models import utcnow
from gluta_order.snapshot.exceptions import CatalogUnavailable

log = get_logger("gluta.order.snapshot")


@dataclass(frozen=True)
class ProductFacts:
    """What the order service keeps of a product, as the product service answered it."""

    product_id: int
    name: str
    unit_price: int
    thumbnail_url: str | None
    on_sale: bool
    quantity: int


def facts_of(product_id: int, body: Any) -> ProductFacts:
    """Read the fields the snapshot keeps from a `ProductDetail` answer (raises ValueError when malformed)."""
    if not isinstance(body, dict):
        raise ValueError("not a product")
    try:
        name, unit_price, quantity = body["name"], body["unitPrice"], body["quantity"]
    except KeyError as exc:
        raise ValueError(f"product answer without {exc}") from exc
    thumbnail = body.get("thumbnailUrl")
    if (not isinstance(name, str) or type(unit_price) is not int or type(quantity) is not int
            or not (thumbnail is None or isinstance(thumbnail, str))):
        raise ValueError("product answer with fields of the wrong type")
    # the detail endpoint answers live products only (a deleted one is a 404): on sale
    return ProductFacts(product_id=product_id, name=name, unit_price=unit_price, thumbnail_url=thumbnail,
                        on_sale=True, quantity=quantity)


@dataclass(frozen=True)
class Fetched:
    """The product service's answer about one product (None: no such product) and when it was asked."""

    product_id: int
    facts: ProductFacts | None
    asked_at: datetime


class ProductReader:
    """Ask the product service for single products.

    Concurrent asks for one product share one call, and a product found is remembered for `memo_seconds`:
    a burst of checkouts of a product just created misses the copy together (on SQLite they queue for
    the one writer, so the first one's answer is stored only after the others have missed) and should
    cost the product service one request, not one each. "No such product" is never remembered.
    """

    MEMO_LIMIT = 1_000

    def __init__(self, client: Callable[[], ServiceClient], *, memo_seconds: float = 1.0) -> None:
        self._client = client  # made on first use: most requests never miss
        self._inflight: dict[int, asyncio.Future[Fetched]] = {}
        self._memo: dict[int, tuple[float, Fetched]] = {}
        self.memo_seconds = memo_seconds

    async def fetch(self, product_id: int) -> Fetched:
        """Return what the product service says of a product (`facts` None: it does not exist, or is deleted).

        Raises `CatalogUnavailable` (503) when the product service cannot answer.
        """
        remembered = self._memo.get(product_id)
        if remembered is not None and time.monotonic() - remembered[0] < self.memo_seconds:
            return remembered[1]
        pending = self._inflight.get(product_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Fetched] = asyncio.get_running_loop().create_future()
        self._inflight[product_id] = future
        try:
            fetched = Fetched(product_id, None, utcnow())
            fetched = Fetched(product_id, await self._ask(product_id), fetched.asked_at)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: no "never retrieved" warning when nobody else waited
            raise
        else:
            future.set_result(fetched)
            if fetched.facts is not None:
                if len(self._memo) >= self.MEMO_LIMIT:
                    self._memo.clear()
                self._memo[product_id] = (time.monotonic(), fetched)
            return fetched
        finally:
            self._inflight.pop(product_id, None)

    async def _ask(self, product_id: int) -> ProductFacts | None:
        try:
            response = await self._client().request("GET", f"/products/{product_id}")
        except ServiceUnavailable as exc:
            log.warning("snapshot.read_through_failed", productId=product_id, error=exc.detail)
            raise CatalogUnavailable() from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            log.warning("snapshot.read_through_refused", productId=product_id, status=response.status_code)
            raise CatalogUnavailable()
        try:
            facts = facts_of(product_id, response.json())
        except ValueError as exc:
            log.warning("snapshot.read_through_unreadable", productId=product_id, error=str(exc))
            raise CatalogUnavailable() from exc
        log.info("snapshot.read_through", productId=product_id)
        return facts
