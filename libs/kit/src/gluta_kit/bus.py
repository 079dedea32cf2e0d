"""The event bus through FastStream: NATS JetStream by default, Kafka or Redis Streams by URL.

Handlers are the same whatever the broker. A consumer names itself; every consumer of a topic gets
every event, and the instances of one consumer share them. A handler that keeps failing is retried
a bounded number of times, then its message goes to the dead-letter store with its error.
"""

from __future__ import annotations

import asyncio
import re
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

from faststream import AckPolicy, Context
from opentelemetry.trace import SpanKind

from gluta_contracts import IntegrationEvent
from gluta_kit.logging import get_logger
from gluta_kit.tracing import span_from

log = get_logger("gluta.bus")

STREAM_NAME = "GLUTA"
STREAM_SUBJECTS = ["gluta.>"]

RawHandler = Callable[[bytes, dict[str, str]], Awaitable[None]]
DeadLetterSink = Callable[[str, str, bytes, dict[str, str], str, int], Awaitable[None]]
E = TypeVar("E", bound=IntegrationEvent)


def _durable_name(consumer: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", consumer)


@dataclass
class Subscription:
    topic: str
    consumer: str
    handler: RawHandler
    broadcast: bool = False
    attempts: dict[str, int] = field(default_factory=dict)


class Bus:
    """One broker connection with the service's subscriptions and a publish method."""

    def __init__(
        self,
        url: str,
        service: str,
        *,
        max_attempts: int = 5,
        retry_base_delay: float = 0.2,
        dead_letters: DeadLetterSink | None = None,
        namespace: str = "",
    ) -> None:
        self.url = url
        self.namespace = re.sub(r"[^A-Za-z0-9_-]", "", namespace)
        self.stream_name = f"{STREAM_NAME}_{self.namespace}" if self.namespace else STREAM_NAME
        self.stream_subjects = [self.wire(s) for s in STREAM_SUBJECTS]
        self.service = service
        self.kind = urlparse(url).scheme.split("+")[0]
        self.max_attempts = max_attempts
        self.retry_base_delay = retry_base_delay
        self.dead_letters = dead_letters
        self.subscriptions: list[Subscription] = []
        self.broker = self._build_broker()
        self._instance_tag = uuid.uuid4().hex[:8]
        self.in_memory = False  # set by gluta_kit.testing when FastStream's test broker stands in

    def _build_broker(self) -> Any:
        if self.kind == "nats":
            from faststream.nats import NatsBroker

            return NatsBroker(self.url, logger=None, connect_timeout=2, max_reconnect_attempts=-1)
        if self.kind == "kafka":
            from faststream.kafka import KafkaBroker

            parsed = urlparse(self.url)
            return KafkaBroker(parsed.netloc or "127.0.0.1:9092", logger=None)
        if self.kind in {"redis", "rediss"}:
            from faststream.redis import RedisBroker

            return RedisBroker(self.url, logger=None)
        raise ValueError(f"unsupported bus URL {self.url!r}: use nats://, kafka:// or redis://")

    def wire(self, topic: str) -> str:
        """Return the subject a topic travels on (namespaced, so test runs never share messages)."""
        return f"{self.namespace}.{topic}" if self.namespace else topic

    # --- subscribing -------------------------------------------------------------------------
    def subscribe(self, topic: str, consumer: str, handler: RawHandler) -> None:
        """Deliver every message of `topic` to `handler`, shared by the instances of `consumer`."""
        sub = Subscription(topic, consumer, handler)
        self.subscriptions.append(sub)
        self._register(sub)

    def on(self, event_type: type[E], consumer: str) -> Callable[[Callable[[E], Awaitable[None]]], Any]:
        """Decorate an async function of one event as the handler of its topic."""

        def decorate(func: Callable[[E], Awaitable[None]]) -> Callable[[E], Awaitable[None]]:
            async def raw(body: bytes, headers: dict[str, str]) -> None:
                await func(event_type.model_validate_json(body))

            self.subscribe(event_type.topic, consumer, raw)
            return func

        return decorate

    def broadcast(self, topic: str, handler: RawHandler) -> None:
        """Deliver every message of `topic` to every instance (used for configuration refresh)."""
        sub = Subscription(topic, f"{self.service}-broadcast", handler, broadcast=True)
        self.subscriptions.append(sub)
        self._register(sub)

    def _register(self, sub: Subscription) -> None:
        async def receive(message: Any = Context("message")) -> None:
            await self._deliver(sub, message)

        receive.__name__ = f"on_{_durable_name(sub.consumer)}_{_durable_name(sub.topic)}"
        broker = self.broker
        if self.kind == "nats":
            from faststream.nats import JStream, PullSub

            if sub.broadcast:
                broker.subscriber(self.wire(sub.topic), ack_policy=AckPolicy.MANUAL)(receive)
            else:
                broker.subscriber(
                    self.wire(sub.topic),
                    stream=JStream(self.stream_name, declare=False),
                    durable=_durable_name(f"{sub.consumer}-{sub.topic}"),
                    pull_sub=PullSub(batch_size=20, timeout=1.0),
                    ack_policy=AckPolicy.MANUAL,
                )(receive)
        elif self.kind == "kafka":
            group = f"{sub.consumer}-{self._instance_tag}" if sub.broadcast else sub.consumer
            broker.subscriber(
                self.wire(sub.topic), group_id=group, auto_offset_reset="latest" if sub.broadcast else "earliest",
                ack_policy=AckPolicy.MANUAL,
            )(receive)
        else:
            from faststream.redis import StreamSub

            if sub.broadcast:
                broker.subscriber(channel=self.wire(sub.topic), ack_policy=AckPolicy.MANUAL)(receive)
            else:
                broker.subscriber(
                    stream=StreamSub(self.wire(sub.topic), group=_durable_name(sub.consumer),
                                     consumer=f"{_durable_name(sub.consumer)}-{self._instance_tag}"),
                    ack_policy=AckPolicy.MANUAL,
                )(receive)

    async def _deliver(self, sub: Subscription, message: Any) -> None:
        body: bytes = message.body if isinstance(message.body, bytes) else bytes(message.body)
        headers = {str(k): str(v) for k, v in (message.headers or {}).items()}
        with span_from(headers, f"consume {sub.topic}", SpanKind.CONSUMER):
            error = ""
            for attempt in range(1, self.max_attempts + 1):
                try:
                    await sub.handler(body, headers)
                    log.info("bus.handled", topic=sub.topic, consumer=sub.consumer, eventId=headers.get("eventId"))
                    await message.ack()
                    return
                except Exception as exc:
                    error = "".join(traceback.format_exception_only(exc)).strip()
                    log.warning("bus.handler_failed", topic=sub.topic, consumer=sub.consumer, attempt=attempt,
                                eventId=headers.get("eventId"), error=error)
                    if attempt < self.max_attempts:
                        await asyncio.sleep(min(self.retry_base_delay * 2 ** (attempt - 1), 5.0))
            if sub.broadcast or self.dead_letters is None:
                log.error("bus.message_dropped", topic=sub.topic, consumer=sub.consumer, error=error)
                await message.ack()
                return
            try:
                await self.dead_letters(sub.topic, sub.consumer, body, headers, error, self.max_attempts)
            except Exception as exc:  # the store is down too: leave the message on the broker for later
                log.error("bus.dead_letter_failed", topic=sub.topic, error=repr(exc))
                await asyncio.sleep(2.0)
                await message.nack()
                return
            log.error("bus.dead_lettered", topic=sub.topic, consumer=sub.consumer,
                      eventId=headers.get("eventId"), error=error)
            await message.ack()

    # --- publishing --------------------------------------------------------------------------
    async def publish(self, topic: str, body: bytes, headers: dict[str, str]) -> None:
        """Publish one message durably; raises when the broker did not take it."""
        if self.kind == "nats":
            msg_headers = dict(headers)
            if "eventId" in headers:
                msg_headers["Nats-Msg-Id"] = headers["eventId"]  # JetStream drops relay duplicates
            await self.broker.publish(body, self.wire(topic), headers=msg_headers, stream=self.stream_name,
                                      timeout=5.0)
        elif self.kind == "kafka":
            await self.broker.publish(body, topic=self.wire(topic), headers=headers)
        else:
            await self.broker.publish(body, stream=self.wire(topic), headers=headers)

    async def publish_broadcast(self, topic: str, body: bytes, headers: dict[str, str]) -> None:
        """Publish a message every instance of every subscriber receives."""
        if self.kind in {"redis", "rediss"}:
            await self.broker.publish(body, channel=self.wire(topic), headers=headers)
        elif self.kind == "nats":
            await self.broker.publish(body, self.wire(topic), headers=headers)
        else:
            await self.broker.publish(body, topic=self.wire(topic), headers=headers)

    async def publish_event(self, event: IntegrationEvent, headers: dict[str, str] | None = None) -> None:
        """Publish an event directly (prefer the outbox for anything that follows a data change)."""
        await self.publish(event.topic, event.to_json(), {"eventId": event.event_id, **(headers or {})})

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, declare the stream and start consuming."""
        if self.kind == "nats" and not self.in_memory:
            await self.broker.connect()
            await self._ensure_stream()
        await self.broker.start()

    async def _ensure_stream(self) -> None:
        from nats.js.api import StreamConfig

        js = self.broker.config.connection_state.stream  # type: ignore[attr-defined]
        try:
            await js.stream_info(self.stream_name)
        except Exception:
            await js.add_stream(StreamConfig(name=self.stream_name, subjects=self.stream_subjects,
                                             duplicate_window=120, max_age=7 * 24 * 3600))

    async def consumer_backlog(self) -> list[dict[str, Any]] | None:
        """Return, per consumer of this service, what waits on the broker (None where it is not measured).

        JetStream only: messages not yet delivered (`waiting`), delivered but not acknowledged
        (`unacknowledged`), redeliveries, and how long ago the consumer last acknowledged one. Kafka and
        Redis Streams report None (not measured here). Raises when the broker cannot be asked.
        """
        if self.kind != "nats" or self.in_memory:
            return None
        from datetime import UTC, datetime

        js = self.broker.config.connection_state.stream  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        backlog = []
        for sub in self.subscriptions:
            if sub.broadcast:
                continue
            info = await js.consumer_info(self.stream_name, _durable_name(f"{sub.consumer}-{sub.topic}"))
            last_ack = info.ack_floor.last_active if info.ack_floor else None
            backlog.append({
                "consumer": sub.consumer, "topic": sub.topic, "waiting": int(info.num_pending or 0),
                "unacknowledged": int(info.num_ack_pending or 0), "redelivered": int(info.num_redelivered or 0),
                "lastAckSecondsAgo": round((now - last_ack).total_seconds(), 3) if last_ack else None,
                "ageSeconds": round((now - info.created).total_seconds(), 3) if info.created else None,
            })
        return backlog

    async def stop(self) -> None:
        """Stop consuming and close the connection."""
        await self.broker.stop()

    async def ping(self) -> bool:
        """Return whether the broker answers."""
        try:
            return bool(await self.broker.ping(timeout=1.0))
        except Exception:
            return False
