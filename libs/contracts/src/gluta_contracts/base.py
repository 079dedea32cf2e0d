"""The envelope every integration event shares."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

_REGISTRY: dict[str, type[IntegrationEvent]] = {}


class IntegrationEvent(BaseModel):
    """An event another service may react to; versioned by class name (`OrderPlaced`, `OrderPlacedV2`)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")

    topic: ClassVar[str] = ""
    # the fields naming the aggregate the event is about (an order, a product, a member): the partition key
    # on Kafka, so one aggregate's events of a topic stay in order; none: no order is promised
    key_fields: ClassVar[tuple[str, ...]] = ()

    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    traceparent: str | None = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.topic:
            _REGISTRY[cls.topic] = cls

    @property
    def partition_key(self) -> str | None:
        """Return the aggregate id this event is about (`"42"`, `"3:17"`), or None when it has none."""
        if not self.key_fields:
            return None
        return ":".join(str(getattr(self, name)) for name in self.key_fields)

    def to_json(self) -> bytes:
        """Serialise with camelCase field names, as it travels on the bus."""
        return self.model_dump_json(by_alias=True).encode()


def topic_of(event: IntegrationEvent | type[IntegrationEvent]) -> str:
    """Return the bus topic an event travels on."""
    return event.topic


def event_types() -> dict[str, type[IntegrationEvent]]:
    """Return every known event class by topic."""
    return dict(_REGISTRY)
