"""Integration events and topic names: the only code Glutathione services share about each other."""

from gluta_contracts.base import IntegrationEvent, event_types, topic_of
from gluta_contracts.events import (
    ConfigRefreshed,
    CouponClaimed,
    MemberRegistered,
    MemberUpdated,
    MemberWithdrawn,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    ProductChanged,
    ShortLine,
    StockRejected,
    StockReleased,
    StockReserved,
    TokensRevoked,
)

__all__ = [
    "ConfigRefreshed",
    "CouponClaimed",
    "IntegrationEvent",
    "MemberRegistered",
    "MemberUpdated",
    "MemberWithdrawn",
    "OrderCancelled",
    "OrderConfirmed",
    "OrderLine",
    "OrderPlaced",
    "ProductChanged",
    "ShortLine",
    "StockRejected",
    "StockReleased",
    "StockReserved",
    "TokensRevoked",
    "event_types",
    "topic_of",
]
