"""The typed layer that generated clients call. Behaviour lives here; generated code is data.

A generated package describes each channel once as a :class:`ChannelSpec` (topic template,
message models and event types, QoS/retain, envelope or bare JSON) and subclasses
:class:`TypedClient` with thin, fully typed ``publish_*`` / ``subscribe_*`` / ``on_*`` /
``request_*`` / ``serve_*`` wrappers around the protected methods below.

Incoming messages are decoded (envelope first, bare JSON fallback on enveloped channels),
validated against the channel's models, and only valid payloads reach handlers; invalid ones
are counted (:attr:`TypedClient.stats`) and logged with the topic and the reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from mqttwire.client import MQTTClient
from mqttwire.config import MQTTClientConfig
from mqttwire.dispatch import Subscription
from mqttwire.envelope import decode_envelope
from mqttwire.errors import PayloadValidationError, RequestTimeoutError
from mqttwire.meta import MessageMeta
from mqttwire.topic_template import ParamSpec, TopicTemplate

__all__ = [
    "ChannelSpec",
    "MessageSpec",
    "ParamSpec",
    "RawClient",
    "RequestSpec",
    "Subscription",
    "TopicTemplate",
    "TypedClient",
    "TypedStats",
    "new_uuid4_hex",
    "now_datetime",
    "now_timestamp",
]

log = logging.getLogger("mqttwire.typed")

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


def new_uuid4_hex() -> str:
    """Default factory for ``x-default-factory: uuid4`` fields (32 hex characters)."""
    return uuid.uuid4().hex


def now_datetime() -> datetime:
    """Default factory for ``x-default-factory: now`` on ``format: date-time`` fields (UTC)."""
    return datetime.now(UTC)


def now_timestamp() -> float:
    """Default factory for ``x-default-factory: now`` fields (seconds since the epoch)."""
    return time.time()


class RawClient(Protocol):
    """What the typed layer needs from ``mqttwire.MQTTClient``."""

    async def connect(self) -> None: ...
    async def disconnect(self) -> None: ...
    async def shutdown(self) -> None: ...

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False
    ) -> None: ...

    async def publish_event(
        self,
        topic: str,
        event_type: str,
        data: Mapping[str, Any] | BaseModel,
        *,
        correlation_id: str | None = None,
        qos: int = 0,
        retain: bool = False,
    ) -> str: ...

    async def subscribe(
        self,
        topic_filter: str,
        handler: Callable[[bytes, MessageMeta], Awaitable[None]],
        *,
        qos: int = 0,
    ) -> Any: ...

    async def unsubscribe(self, subscription: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """One message of a channel: its event type (envelope ``type``) and payload model.

    ``envelope`` overrides the channel's envelope rule for this message (``None`` inherits it).
    """

    event_type: str
    model: type[BaseModel]
    envelope: bool | None = None


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel as generated from the contract (pure data)."""

    name: str
    topic: TopicTemplate
    messages: tuple[MessageSpec, ...]
    envelope: bool = False
    publish_qos: int = 0
    publish_retain: bool = False
    subscribe_qos: int = 0
    message_expiry_interval: int | None = None

    def enveloped(self, message: MessageSpec) -> bool:
        return self.envelope if message.envelope is None else message.envelope

    @property
    def may_carry_envelopes(self) -> bool:
        return any(self.enveloped(m) for m in self.messages)

    def message_for(self, payload: BaseModel, event_type: str | None = None) -> MessageSpec:
        """The message a payload is published as (exact model first, then subclasses)."""
        candidates = [m for m in self.messages if event_type is None or m.event_type == event_type]
        for spec in candidates:
            if type(payload) is spec.model:
                return spec
        for spec in candidates:
            if isinstance(payload, spec.model):
                return spec
        if event_type is not None:
            raise TypeError(
                f"channel {self.name} has no message {event_type!r} carrying {type(payload).__name__}"
            )
        allowed = ", ".join(s.model.__name__ for s in self.messages)
        raise TypeError(f"channel {self.name} carries {allowed}, not {type(payload).__name__}")

    def event_type_for(self, payload: BaseModel) -> str:
        return self.message_for(payload).event_type


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """A request channel with its declared reply (AsyncAPI 3 ``reply``)."""

    request: ChannelSpec
    reply: ChannelSpec
    correlation: str = "envelope-id"
    stream: ChannelSpec | None = None

    @property
    def payload_pointer(self) -> tuple[str, ...] | None:
        """For ``$message.payload#/a/b``: the path in the payload that carries the correlation;
        ``None`` for ``envelope-id`` (the reply envelope's id equals the request's)."""
        prefix = "$message.payload#/"
        if not self.correlation.startswith(prefix):
            return None
        return tuple(
            t.replace("~1", "/").replace("~0", "~")
            for t in self.correlation[len(prefix) :].split("/")
        )


def _lookup(data: Any, path: tuple[str, ...]) -> str | None:
    for token in path:
        if isinstance(data, dict) and token in data:
            data = data[token]
        elif isinstance(data, list) and token.isdigit() and int(token) < len(data):
            data = data[int(token)]
        else:
            return None
    if data is None or isinstance(data, dict | list):
        return None
    return str(data)


class _Waiter:
    """One request in flight: receives stream items and the final reply (or an error)."""

    __slots__ = ("final_channel", "queue")

    def __init__(self, final_channel: str) -> None:
        self.final_channel = final_channel
        self.queue: asyncio.Queue[tuple[BaseModel | BaseException, bool]] = asyncio.Queue()


@dataclass(slots=True)
class TypedStats:
    """Counters of the typed layer (per channel name)."""

    received: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    late_replies: Counter[str] = field(default_factory=Counter)

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())


def _encode(payload: BaseModel) -> Any:
    return payload.model_dump(mode="json", by_alias=True)


class _Invalid(Exception):
    def __init__(self, reason: str, errors: list[Any]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors


class TypedClient:
    """Base class of generated clients. Construct with a config, ``from_env()`` or ``client=``."""

    CHANNELS: Mapping[str, ChannelSpec] = {}

    def __init__(
        self, config: MQTTClientConfig | None = None, *, client: RawClient | None = None
    ) -> None:
        if client is None:
            client = MQTTClient(config if config is not None else MQTTClientConfig.from_env())
        elif config is not None:
            raise TypeError("pass either a config or a client, not both")
        self._client: RawClient = client
        self.stats = TypedStats()
        self._waiters: dict[tuple[str, str], _Waiter] = {}
        self._pointers: dict[str, set[tuple[str, ...]]] = {}
        self._reply_subs: dict[str, Any] = {}
        self._reply_lock: asyncio.Lock | None = None
        self._deferred: list[Callable[[], Awaitable[Any]]] = []

    @classmethod
    def from_env(cls) -> Self:
        """A client configured from the ``MQTT_*`` environment variables."""
        return cls(MQTTClientConfig.from_env())

    @property
    def client(self) -> RawClient:
        """The underlying ``MQTTClient`` (for raw publish/subscribe and health)."""
        return self._client

    async def connect(self) -> None:
        """Connect; subscriptions registered by decorators outside a loop start first."""
        deferred, self._deferred = self._deferred, []
        for start in deferred:
            await start()
        await self._client.connect()

    async def disconnect(self) -> None:
        await self._client.disconnect()

    async def shutdown(self) -> None:
        for waiter in set(self._waiters.values()):
            waiter.queue.put_nowait((asyncio.CancelledError("client shut down"), True))
        self._waiters.clear()
        await self._client.shutdown()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    # -- publish -----------------------------------------------------------------------------
    async def _publish(
        self,
        spec: ChannelSpec,
        payload: BaseModel,
        params: Mapping[str, str],
        *,
        correlation_id: str | None = None,
        event_type: str | None = None,
    ) -> str | None:
        """Publish a model on its channel; returns the envelope id (``None`` for bare JSON).

        ``event_type`` picks one of several message names that share the payload's model.
        """
        topic = spec.topic.format(params)
        message = spec.message_for(payload, event_type)
        if spec.enveloped(message):
            return await self._client.publish_event(
                topic,
                message.event_type,
                _encode(payload),
                correlation_id=correlation_id,
                qos=spec.publish_qos,
                retain=spec.publish_retain,
            )
        await self._client.publish(
            topic, orjson.dumps(_encode(payload)), qos=spec.publish_qos, retain=spec.publish_retain
        )
        return None

    # -- receive -----------------------------------------------------------------------------
    def _decode(
        self, spec: ChannelSpec, payload: bytes, meta: MessageMeta
    ) -> tuple[BaseModel, MessageMeta]:
        params = spec.topic.match(meta.topic) or {}
        candidates = spec.messages
        data: Any
        envelope = decode_envelope(payload) if spec.may_carry_envelopes else None
        if envelope is not None:
            typed = tuple(
                m for m in spec.messages if m.event_type == envelope.type and spec.enveloped(m)
            )
            candidates = typed or spec.messages
            data = envelope.data
            meta = replace(
                meta,
                params=params,
                envelope_id=envelope.id,
                event_type=envelope.type,
                source=envelope.source,
                ts=envelope.ts,
                correlation_id=envelope.id,
            )
        else:
            try:
                data = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise _Invalid(f"not JSON: {exc}", []) from None
            meta = replace(meta, params=params)
        errors: list[Any] = []
        for candidate in candidates:
            try:
                return candidate.model.model_validate(data), meta
            except ValidationError as exc:
                errors.extend(exc.errors(include_url=False))
        names = "/".join(c.model.__name__ for c in candidates)
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        raise _Invalid(f"not a valid {names}: {where}: {first.get('msg', 'invalid')}", errors)

    def _reject(self, spec: ChannelSpec, meta: MessageMeta, reason: str) -> None:
        self.stats.invalid[spec.name] += 1
        log.warning("dropped invalid message on %s (channel %s): %s", meta.topic, spec.name, reason)

    async def _subscribe(
        self,
        spec: ChannelSpec,
        handler: Callable[[M, MessageMeta], Awaitable[None]],
        filters: Mapping[str, str | None] | None = None,
    ) -> Any:
        """Subscribe a typed handler; only valid payloads reach it."""
        topic_filter = spec.topic.filter(filters)

        async def on_raw(payload: bytes, meta: MessageMeta) -> None:
            try:
                model, full_meta = self._decode(spec, payload, meta)
            except _Invalid as exc:
                self._reject(spec, meta, exc.reason)
                return
            self.stats.received[spec.name] += 1
            await handler(model, full_meta)  # type: ignore[arg-type]  # model is one of M's members

        return await self._client.subscribe(topic_filter, on_raw, qos=spec.subscribe_qos)

    def _on(
        self, spec: ChannelSpec, filters: Mapping[str, str | None] | None = None
    ) -> Callable[
        [Callable[[M, MessageMeta], Awaitable[None]]], Callable[[M, MessageMeta], Awaitable[None]]
    ]:
        """Decorator form of :meth:`_subscribe`; the subscription starts in the background."""

        def register(
            handler: Callable[[M, MessageMeta], Awaitable[None]],
        ) -> Callable[[M, MessageMeta], Awaitable[None]]:
            self._spawn(lambda: self._subscribe(spec, handler, filters))
            return handler

        return register

    def _spawn(self, start: Callable[[], Awaitable[Any]]) -> None:
        """Run ``start`` now (in the background) or, without a running loop, at ``connect()``."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._deferred.append(start)
            return

        async def run() -> None:
            await start()

        task = loop.create_task(run())
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    async def _unsubscribe(self, subscription: Any) -> None:
        await self._client.unsubscribe(subscription)

    # -- request / reply ---------------------------------------------------------------------
    async def _ensure_reply_channel(
        self, channel: ChannelSpec, pointer: tuple[str, ...] | None
    ) -> None:
        """One raw subscription per reply (or stream) channel, routing to the waiting requests."""
        if pointer is not None:
            self._pointers.setdefault(channel.name, set()).add(pointer)
        if self._reply_lock is None:
            self._reply_lock = asyncio.Lock()
        async with self._reply_lock:
            if channel.name in self._reply_subs:
                return

            async def on_reply(payload: bytes, meta: MessageMeta) -> None:
                await self._route_reply(channel, payload, meta)

            self._reply_subs[channel.name] = await self._client.subscribe(
                channel.topic.filter(), on_reply, qos=channel.subscribe_qos
            )

    async def _route_reply(self, channel: ChannelSpec, payload: bytes, meta: MessageMeta) -> None:
        try:
            model, full = self._decode(channel, payload, meta)
        except _Invalid as exc:
            self._reject(channel, meta, exc.reason)
            envelope = decode_envelope(payload) if channel.envelope else None
            waiter = self._waiters.get((channel.name, envelope.id)) if envelope else None
            if waiter is not None:
                model_name = channel.messages[0].model.__name__
                waiter.queue.put_nowait(
                    (PayloadValidationError(meta.topic, model_name, exc.errors, exc.reason), True)
                )
            return
        keys: list[str] = [full.envelope_id] if full.envelope_id else []
        if self._pointers.get(channel.name):
            dumped = _encode(model)
            for pointer in sorted(self._pointers[channel.name]):
                value = _lookup(dumped, pointer)
                if value is not None:
                    keys.append(value)
        for key in keys:
            waiter = self._waiters.get((channel.name, key))
            if waiter is not None:
                self.stats.received[channel.name] += 1
                waiter.queue.put_nowait((model, channel.name == waiter.final_channel))
                return
        self.stats.late_replies[channel.name] += 1
        log.debug(
            "dropped %s on %s: no request waits for it (keys %s)", channel.name, meta.topic, keys
        )

    async def _start_request(
        self, spec: RequestSpec, payload: BaseModel, params: Mapping[str, str]
    ) -> tuple[str, _Waiter, list[tuple[str, str]]]:
        pointer = spec.payload_pointer
        if pointer is None and not (spec.request.envelope and spec.reply.envelope):
            raise TypeError(
                f"{spec.request.name}: envelope-id correlation needs enveloped channels"
            )
        await self._ensure_reply_channel(spec.reply, pointer)
        if spec.stream is not None:
            await self._ensure_reply_channel(spec.stream, pointer)
        if pointer is None:
            key = uuid.uuid4().hex
        else:
            found = _lookup(_encode(payload), pointer)
            if found is None:
                raise ValueError(
                    f"{spec.request.name}: the request has no correlation value at {spec.correlation}"
                )
            key = found
        waiter = _Waiter(spec.reply.name)
        slots = [(spec.reply.name, key)]
        if spec.stream is not None:
            slots.append((spec.stream.name, key))
        for slot in slots:
            self._waiters[slot] = waiter
        try:
            await self._publish(
                spec.request, payload, params, correlation_id=key if pointer is None else None
            )
        except BaseException:
            for slot in slots:
                self._waiters.pop(slot, None)
            raise
        return key, waiter, slots

    async def _request(
        self,
        spec: RequestSpec,
        payload: BaseModel,
        params: Mapping[str, str],
        *,
        timeout: float,  # noqa: ASYNC109 - a deadline for the reply, part of the public API
    ) -> BaseModel:
        """Publish ``payload`` and wait for the correlated reply (stream items are skipped)."""
        key, waiter, slots = await self._start_request(spec, payload, params)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    item, final = await waiter.queue.get()
                    if isinstance(item, BaseException):
                        raise item
                    if final:
                        return item
        except TimeoutError:
            raise RequestTimeoutError(spec.request.topic.format(params), key, timeout) from None
        finally:
            for slot in slots:
                self._waiters.pop(slot, None)

    async def _request_stream(
        self,
        spec: RequestSpec,
        payload: BaseModel,
        params: Mapping[str, str],
        *,
        timeout: float,  # noqa: ASYNC109 - overall deadline for the whole exchange
    ) -> AsyncIterator[BaseModel]:
        """Publish ``payload``; yield each streamed partial reply, then the final reply."""
        key, waiter, slots = await self._start_request(spec, payload, params)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        item, final = await waiter.queue.get()
                except TimeoutError:
                    raise RequestTimeoutError(
                        spec.request.topic.format(params), key, timeout
                    ) from None
                if isinstance(item, BaseException):
                    raise item
                yield item
                if final:
                    return
        finally:
            for slot in slots:
                self._waiters.pop(slot, None)

    async def _serve(
        self,
        spec: RequestSpec,
        handler: Callable[[M, MessageMeta], Awaitable[R]],
        filters: Mapping[str, str | None] | None = None,
    ) -> Any:
        """Answer requests: the handler's return value is published on the reply channel, with
        the request's envelope id as the reply's id (``envelope-id`` correlation); for payload
        correlation the handler copies the field (e.g. ``call_id``) into its reply."""

        async def answer(request: M, meta: MessageMeta) -> None:
            reply = await handler(request, meta)
            params = {
                name: meta.params[name] for name in spec.reply.topic.params if name in meta.params
            }
            await self._publish(spec.reply, reply, params, correlation_id=meta.envelope_id)

        return await self._subscribe(spec.request, answer, filters)


_BACKGROUND: set[asyncio.Task[None]] = set()
