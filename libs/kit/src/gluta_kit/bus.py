"""The event bus through FastStream: NATS JetStream by default, Kafka or Redis Streams by URL.

Handlers are the same whatever the broker. A consumer names itself; every consumer of a topic gets
every event, and the instances of one consumer share them. A handler that keeps failing is retried
a bounded number of times, then its message goes to the dead-letter store with its error.

Kafka (see `libs/kit/README.md`): the topics are created at start (`kafka_partitions` each); every
message is keyed by its event's aggregate id, so one aggregate's events of a topic stay in one partition
and in order; a consumer is one consumer group (its instances split the partitions), which reads in
batches and commits only after every message of the batch was handled or dead-lettered (at least once;
the consumers' inbox makes a redelivery change nothing). Broadcasts (configuration refresh, revoked
tokens) are read by every instance without a group, from the end of the topic.
"""

from __future__ import annotations

import asyncio
import re
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

from faststream import AckPolicy, Context
from opentelemetry.trace import SpanKind

from gluta_contracts import IntegrationEvent, event_types
from gluta_kit.logging import get_logger
from gluta_kit.tracing import span_from

log = get_logger("gluta.bus")

STREAM_NAME = "GLUTA"
STREAM_SUBJECTS = ["gluta.>"]
KAFKA_BATCH = 100  # records a Kafka consumer takes per poll (its commit covers them all)
KAFKA_BROADCAST_START_TIMEOUT = 10.0
REDIS_PUBLISH_CONCURRENCY = 50  # publishes in flight from one relay batch (redis-py's pool holds 100 connections)
REDIS_BROADCAST_MAXLEN = 1000  # a broadcast stream keeps its latest messages only: nobody reads old ones

RawHandler = Callable[[bytes, dict[str, str]], Awaitable[None]]
DeadLetterSink = Callable[[str, str, bytes, dict[str, str], str, int], Awaitable[None]]
# a message to publish: topic, body, headers, partition key (None: no order promised)
Outgoing = tuple[str, bytes, dict[str, str], str | None]
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
        kafka_partitions: int = 3,
        kafka_replication_factor: int = 1,
        kafka_session_timeout_ms: int = 10_000,
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
        self.kafka_partitions = kafka_partitions
        self.kafka_replication_factor = kafka_replication_factor
        self.kafka_session_timeout_ms = kafka_session_timeout_ms
        self.subscriptions: list[Subscription] = []
        self.broker = self._build_broker()
        self._instance_tag = uuid.uuid4().hex[:8]
        self._kafka_subscribers: list[Any] = []
        self._kafka_broadcast: Any = None
        self._redis_broadcasts_registered = False
        self.in_memory = False  # set by gluta_kit.testing when FastStream's test broker stands in

    def _build_broker(self) -> Any:
        if self.kind == "nats":
            from faststream.nats import NatsBroker

            return NatsBroker(self.url, logger=None, connect_timeout=2, max_reconnect_attempts=-1)
        if self.kind == "kafka":
            from faststream.kafka import KafkaBroker

            parsed = urlparse(self.url)
            # acks=all: a message counts as published once every in-sync replica has it. No idempotent
            # producer: Tansu refuses InitProducerId, and the consumers' inbox drops duplicates anyway.
            brokers = [host for host in (parsed.netloc or "127.0.0.1:9092").split(",") if host]
            return KafkaBroker(brokers, logger=None, acks="all",
                               client_id=f"gluta-{self.service}", request_timeout_ms=10_000,
                               allow_auto_create_topics=False)
        if self.kind in {"redis", "rediss"}:
            from faststream.redis import RedisBroker

            return RedisBroker(self.url, logger=None)
        raise ValueError(f"unsupported bus URL {self.url!r}: use nats://, kafka:// or redis://")

    def wire(self, topic: str) -> str:
        """Return the subject a topic travels on (namespaced, so test runs never share messages)."""
        return f"{self.namespace}.{topic}" if self.namespace else topic

    def group(self, consumer: str) -> str:
        """Return the Kafka consumer group of a consumer (namespaced like the topics)."""
        return f"{self.namespace}.{consumer}" if self.namespace else consumer

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
        """Deliver every message of `topic` to every instance (configuration refresh, revoked tokens)."""
        sub = Subscription(topic, f"{self.service}-broadcast", handler, broadcast=True)
        self.subscriptions.append(sub)
        self._register(sub)

    def _register(self, sub: Subscription) -> None:
        if self.kind == "kafka":
            return  # Kafka's subscribers are made at start: one consumer group per consumer, over all its topics

        receive = self._receiver(sub)
        broker = self.broker
        if self.kind == "nats":
            from faststream.nats import JStream, PullSub

            if sub.broadcast:
                # a plain subscription: it also sees what the outbox relay publishes to the stream's subjects
                broker.subscriber(self.wire(sub.topic), ack_policy=AckPolicy.MANUAL)(receive)
            else:
                broker.subscriber(
                    self.wire(sub.topic),
                    stream=JStream(self.stream_name, declare=False),
                    durable=_durable_name(f"{sub.consumer}-{sub.topic}"),
                    pull_sub=PullSub(batch_size=20, timeout=1.0),
                    ack_policy=AckPolicy.MANUAL,
                )(receive)
        else:
            from faststream.redis import StreamSub

            if sub.broadcast:
                return  # made at start, reading from that moment (see `_register_redis_broadcasts`)
            else:
                broker.subscriber(
                    stream=StreamSub(self.wire(sub.topic), group=_durable_name(sub.consumer),
                                     consumer=f"{_durable_name(sub.consumer)}-{self._instance_tag}"),
                    ack_policy=AckPolicy.MANUAL,
                )(receive)

    def _register_redis_broadcasts(self) -> None:
        """Read each broadcast stream without a group, from now on: every instance reads every entry, the
        ones the outbox relay adds included (a pub/sub channel would not see those).

        "Now" is this host's clock as a stream id (ids are the Redis server's milliseconds): with clocks
        apart by d, an instance misses or reads again the entries of the d around its start.
        """
        from faststream.redis import StreamSub

        since = f"{int(time.time() * 1000)}-0"
        for sub in self.subscriptions:
            if sub.broadcast:
                receive = self._receiver(sub)
                self.broker.subscriber(stream=StreamSub(self.wire(sub.topic), last_id=since),
                                       ack_policy=AckPolicy.MANUAL)(receive)
        self._redis_broadcasts_registered = True

    def _register_kafka(self) -> None:
        """Make one FastStream subscriber per consumer (its group) and one for the broadcasts (no group)."""
        from faststream.kafka.schemas import Topic

        by_consumer: dict[str, list[Subscription]] = {}
        broadcasts: list[Subscription] = []
        for sub in self.subscriptions:
            if sub.broadcast:
                broadcasts.append(sub)
            else:
                by_consumer.setdefault(sub.consumer, []).append(sub)

        def topics_of(subs: list[Subscription]) -> list[Any]:
            names = dict.fromkeys(self.wire(s.topic) for s in subs)
            return [Topic(name, declare=False) for name in names]  # created by `ensure_topics` before

        for consumer, subs in by_consumer.items():
            receive = self._kafka_receiver(_routes(self, subs), commit=True)
            receive.__name__ = f"on_{_durable_name(consumer)}"
            subscriber = self.broker.subscriber(
                *topics_of(subs), group_id=self.group(consumer), batch=True, max_records=KAFKA_BATCH,
                batch_timeout_ms=200, auto_offset_reset="earliest", ack_policy=AckPolicy.MANUAL,
                session_timeout_ms=self.kafka_session_timeout_ms,
                heartbeat_interval_ms=max(1000, self.kafka_session_timeout_ms // 3),
            )
            subscriber(receive)
            self._kafka_subscribers.append(subscriber)
        if broadcasts:
            receive_broadcast = self._kafka_receiver(_routes(self, broadcasts), commit=False)
            receive_broadcast.__name__ = f"on_{_durable_name(self.service)}_broadcasts"
            # no group: this instance reads every partition itself, from the end, and commits nothing
            self._kafka_broadcast = self.broker.subscriber(
                *topics_of(broadcasts), group_id=None, batch=True, max_records=KAFKA_BATCH, batch_timeout_ms=200,
                auto_offset_reset="latest", ack_policy=AckPolicy.ACK_FIRST,
            )
            self._kafka_broadcast(receive_broadcast)
            self._kafka_subscribers.append(self._kafka_broadcast)

    def _receiver(self, sub: Subscription) -> Callable[..., Any]:
        async def receive(message: Any = Context("message")) -> None:
            await self._deliver(sub, message)

        receive.__name__ = f"on_{_durable_name(sub.consumer)}_{_durable_name(sub.topic)}"
        return receive

    def _kafka_receiver(self, routes: dict[str, list[Subscription]], *, commit: bool) -> Callable[..., Any]:
        async def receive(message: Any = Context("message")) -> None:
            await self._deliver_kafka_batch(routes, message, commit=commit)

        return receive

    # --- delivering --------------------------------------------------------------------------
    async def _handle(self, sub: Subscription, body: bytes, headers: dict[str, str]) -> bool:
        """Run the handler, retrying with backoff; dead-letter the message when it keeps failing.

        Return False only when the message must stay on the broker: the dead-letter store failed too.
        """
        with span_from(headers, f"consume {sub.topic}", SpanKind.CONSUMER):
            error = ""
            for attempt in range(1, self.max_attempts + 1):
                try:
                    await sub.handler(body, headers)
                    log.info("bus.handled", topic=sub.topic, consumer=sub.consumer, eventId=headers.get("eventId"))
                    return True
                except Exception as exc:
                    error = "".join(traceback.format_exception_only(exc)).strip()
                    log.warning("bus.handler_failed", topic=sub.topic, consumer=sub.consumer, attempt=attempt,
                                eventId=headers.get("eventId"), error=error)
                    if attempt < self.max_attempts:
                        await asyncio.sleep(min(self.retry_base_delay * 2 ** (attempt - 1), 5.0))
            if sub.broadcast or self.dead_letters is None:
                log.error("bus.message_dropped", topic=sub.topic, consumer=sub.consumer, error=error)
                return True
            try:
                await self.dead_letters(sub.topic, sub.consumer, body, headers, error, self.max_attempts)
            except Exception as exc:  # the store is down too: leave the message on the broker for later
                log.error("bus.dead_letter_failed", topic=sub.topic, error=repr(exc))
                return False
            log.error("bus.dead_lettered", topic=sub.topic, consumer=sub.consumer,
                      eventId=headers.get("eventId"), error=error)
            return True

    async def _deliver(self, sub: Subscription, message: Any) -> None:
        body: bytes = message.body if isinstance(message.body, bytes) else bytes(message.body)
        headers = {str(k): str(v) for k, v in (message.headers or {}).items()}
        if await self._handle(sub, body, headers):
            await message.ack()
        else:
            await asyncio.sleep(2.0)
            await message.nack()

    async def _deliver_kafka_batch(self, routes: dict[str, list[Subscription]], message: Any, *,
                                   commit: bool = True) -> None:
        """Handle one poll's records, then commit them all (or rewind, when one could not be kept).

        Records of one partition with one key (one aggregate) are handled one after the other, in offset
        order; the others at the same time, so that a consumer's group commit can gather them and one slow
        or poisoned aggregate holds back only its own later events. A record whose handler keeps failing
        is dead-lettered and counts as done: it never blocks its partition.
        """
        records = message.raw_message if isinstance(message.raw_message, tuple) else (message.raw_message,)
        lanes: dict[tuple[str, int, bytes], list[Any]] = {}
        for index, record in enumerate(records):
            # a record without a key promises no order: a lane of its own
            lane = (record.topic, record.partition, record.key if record.key is not None else b"\0%d" % index)
            lanes.setdefault(lane, []).append(record)

        async def run(lane_records: list[Any]) -> bool:
            for record in lane_records:
                headers = {str(k): v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                           for k, v in (record.headers or ())}
                body = record.value if isinstance(record.value, bytes) else bytes(record.value or b"")
                for sub in routes.get(record.topic, ()):
                    if not await self._handle(sub, body, headers):
                        return False  # nothing after it in this lane may run before it: rewind
            return True

        kept = await asyncio.gather(*(run(lane) for lane in lanes.values()))
        if not commit:
            return
        if all(kept):
            try:
                await message.ack()
            except Exception as exc:  # a rebalance took the partitions: their new owner gets the records again
                log.warning("bus.commit_failed", consumer=message.consumer and getattr(
                    message.consumer, "_group_id", None), error=repr(exc))
        else:
            await asyncio.sleep(2.0)
            await message.nack()  # back to the earliest record of the poll per partition; the inbox drops repeats

    # --- publishing --------------------------------------------------------------------------
    async def publish(self, topic: str, body: bytes, headers: dict[str, str], key: str | None = None) -> None:
        """Publish one message durably; raises when the broker did not take it.

        `key` (the aggregate id) is the Kafka message key; the other brokers ignore it.
        """
        if self.kind == "nats":
            msg_headers = dict(headers)
            if "eventId" in headers:
                msg_headers["Nats-Msg-Id"] = headers["eventId"]  # JetStream drops relay duplicates
            await self.broker.publish(body, self.wire(topic), headers=msg_headers, stream=self.stream_name,
                                      timeout=5.0)
        elif self.kind == "kafka":
            await self.broker.publish(body, topic=self.wire(topic), key=_key(key), headers=headers)
        else:
            await self.broker.publish(body, stream=self.wire(topic), headers=headers)

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[BaseException | None]:
        """Publish messages together; return, per message, None when the broker took it, else the error.

        On Kafka they are handed to the producer one after the other, in the given order (so messages of
        one key reach their partition in that order), and their acknowledgements are awaited together. On the
        other buses the messages of one key are published one after the other, different keys at once.
        """
        if self.kind != "kafka":
            # messages of one key one after the other (concurrent publishes may take different connections
            # and arrive swapped), different keys at the same time
            outcomes_by_index: dict[int, BaseException | None] = {}
            lanes: dict[tuple[str, str] | int, list[int]] = {}
            for index, (topic, _, _, key) in enumerate(messages):
                lanes.setdefault((topic, key) if key is not None else index, []).append(index)

            # Redis: no more at once than its connection pool holds (100), or the rest fail with "Too many
            # connections" and come back later, after newer messages; NATS pipelines them on one connection
            slots = asyncio.Semaphore(REDIS_PUBLISH_CONCURRENCY if self.kind != "nats" else len(messages) or 1)

            async def lane(indexes: list[int]) -> None:
                for index in indexes:
                    topic, body, headers, key = messages[index]
                    try:
                        async with slots:
                            await self.publish(topic, body, headers, key)
                        outcomes_by_index[index] = None
                    except Exception as exc:
                        outcomes_by_index[index] = exc

            await asyncio.gather(*(lane(indexes) for indexes in lanes.values()))
            return [outcomes_by_index[index] for index in range(len(messages))]
        pending: list[asyncio.Future[Any] | BaseException] = []
        for topic, body, headers, key in messages:
            try:
                pending.append(await self.broker.publish(body, topic=self.wire(topic), key=_key(key),
                                                         headers=headers, no_confirm=True))
            except Exception as exc:
                pending.append(exc)
        outcomes: list[BaseException | None] = []
        for item in pending:
            if isinstance(item, BaseException):
                outcomes.append(item)
                continue
            try:
                await item
                outcomes.append(None)
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    async def publish_broadcast(self, topic: str, body: bytes, headers: dict[str, str]) -> None:
        """Publish a message every instance of every subscriber receives."""
        if self.kind in {"redis", "rediss"}:
            await self.broker.publish(body, stream=self.wire(topic), headers=headers, maxlen=REDIS_BROADCAST_MAXLEN)
        elif self.kind == "nats":
            await self.broker.publish(body, self.wire(topic), headers=headers)
        else:
            await self.broker.publish(body, topic=self.wire(topic), headers=headers)

    async def publish_event(self, event: IntegrationEvent, headers: dict[str, str] | None = None) -> None:
        """Publish an event directly (prefer the outbox for anything that follows a data change)."""
        await self.publish(event.topic, event.to_json(), {"eventId": event.event_id, **(headers or {})},
                           event.partition_key)

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, declare the stream (NATS) or the topics (Kafka) and start consuming."""
        if self.kind == "kafka" and not self.in_memory:
            await self._start_kafka()
            return
        if self.kind == "nats" and not self.in_memory:
            await self.broker.connect()
            await self._ensure_stream()
        if self.kind in {"redis", "rediss"} and not self._redis_broadcasts_registered:
            self._register_redis_broadcasts()
        await self.broker.start()
        if self.kind == "nats" and not self.in_memory and self.broker._connection is not None:
            # the subscriptions are sent but maybe not yet read by the server: a broadcast published right
            # after start (from another connection) would miss this instance. A ping round trip settles them.
            await self.broker._connection.flush()

    async def _start_kafka(self) -> None:
        if not self._kafka_subscribers:
            self._register_kafka()
        await self.broker.connect()
        await self.ensure_topics()
        # FastStream starts subscribers one by one, and each waits for its group's join (seconds on Kafka,
        # five on Tansu): started together, a service with five consumers is ready in one join's time
        await asyncio.gather(*(subscriber.start() for subscriber in self._kafka_subscribers))
        self.broker.running = True
        await self._broadcast_positions()

    async def _broadcast_positions(self) -> None:
        """Wait until the broadcast consumer knows where the end of each partition is.

        Only from then on does it see every new message: something that loads state at start and then
        follows the broadcasts (revoked tokens) misses nothing between the two.
        """
        consumer = getattr(self._kafka_broadcast, "consumer", None)
        if consumer is None:
            return
        for _ in range(int(KAFKA_BROADCAST_START_TIMEOUT / 0.05)):  # polled: aiokafka signals no assignment
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await asyncio.wait_for(consumer.position(partition), timeout=KAFKA_BROADCAST_START_TIMEOUT)

    def known_topics(self) -> list[str]:
        """Return every topic this bus may use: the contracts' events' and its subscriptions' (wire names)."""
        topics = {*event_types(), *(sub.topic for sub in self.subscriptions)}
        return sorted(self.wire(topic) for topic in topics)

    async def ensure_topics(self) -> None:
        """Create the Kafka topics that are missing, `kafka_partitions` each; leave existing ones as they are.

        A topic that exists with another partition count is logged, not changed: adding partitions moves
        keys to other partitions, which breaks their order while the old ones drain.
        """
        from aiokafka.admin import NewTopic
        from aiokafka.errors import TopicAlreadyExistsError, for_code

        admin = self.broker.config.admin_client
        wanted = self.known_topics()
        response = await admin.create_topics([NewTopic(name, self.kafka_partitions, self.kafka_replication_factor)
                                              for name in wanted])
        created = []
        refused: dict[str, Exception] = {}
        for topic, code, message in _topic_errors(response):
            if not code:
                created.append(topic)
                continue
            error = for_code(code)(message or f"error code {code}")
            if not isinstance(error, TopicAlreadyExistsError):
                refused[topic] = error
        if refused:
            # an account without the CreateTopics right is refused even for topics that exist: fine if they do
            described = await admin.describe_topics(list(refused))
            missing = [t.get("topic") for t in described if t.get("error_code")]
            if missing or len(described) < len(refused):
                topic = missing[0] if missing else next(iter(refused))
                raise RuntimeError(f"cannot create Kafka topic {topic}: {refused.get(topic)!r}")
            log.warning("bus.topics_not_created_but_exist", topics=sorted(refused))
        if created:
            log.info("bus.topics_created", topics=created, partitions=self.kafka_partitions)
        existing = [t for t in wanted if t not in created]
        if not existing:
            return
        try:
            described = await admin.describe_topics(existing)
        except Exception as exc:  # a broker without DescribeTopics: the counts are only checked, never needed
            log.warning("bus.topics_not_described", error=repr(exc))
            return
        for topic in described:
            count = len(topic.get("partitions") or ())
            if count and count != self.kafka_partitions:
                log.warning("bus.topic_partitions_differ", topic=topic.get("topic"), partitions=count,
                            configured=self.kafka_partitions)

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

        JetStream: messages not yet delivered (`waiting`), delivered but not acknowledged (`unacknowledged`),
        redeliveries, and how long ago the consumer last acknowledged one. Kafka: the group's lag (`waiting`:
        end offsets − committed offsets), without timing (`lagOnly`). Redis Streams: None (not measured).
        Raises when the broker cannot be asked.
        """
        if self.in_memory:
            return None
        if self.kind == "kafka":
            return await self._kafka_lag()
        if self.kind != "nats":
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

    async def _kafka_lag(self) -> list[dict[str, Any]]:
        """Each consumer group's lag over its topics' partitions, read with this bus's own running consumers."""
        from aiokafka import TopicPartition

        groups = [sub for sub in self.subscriptions if not sub.broadcast]
        # a consumer this process already runs answers for the end offsets (no extra connection to set up)
        reader = next((s.consumer for s in self._kafka_subscribers if getattr(s, "consumer", None) is not None), None)
        if not groups or reader is None:
            return []
        admin = self.broker.config.admin_client  # type: ignore[attr-defined]
        backlog = []
        for sub in groups:
            topic = self.wire(sub.topic)
            partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
            committed = await admin.list_consumer_group_offsets(self.group(sub.consumer), partitions=partitions)
            ends = await reader.end_offsets(partitions)
            starts = await reader.beginning_offsets(partitions)
            waiting = 0
            for partition in partitions:
                done = committed.get(partition)
                position = done.offset if done is not None and done.offset >= 0 else starts[partition]
                waiting += max(0, ends[partition] - position)
            backlog.append({"consumer": sub.consumer, "topic": sub.topic, "waiting": waiting, "unacknowledged": 0,
                            "redelivered": 0, "lastAckSecondsAgo": None, "ageSeconds": None, "lagOnly": True})
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


def _key(key: str | None) -> bytes | None:
    return None if key is None else key.encode()


def _routes(bus: Bus, subs: list[Subscription]) -> dict[str, list[Subscription]]:
    """Map each wire topic to the subscriptions that handle its records."""
    routes: dict[str, list[Subscription]] = {}
    for sub in subs:
        routes.setdefault(bus.wire(sub.topic), []).append(sub)
    return routes


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    """Return (topic, error code, message) from a CreateTopics response of any version."""
    out = []
    for entry in response.topic_errors:
        topic, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        out.append((topic, code, message))
    return out
