"""Request/reply for the typed layer: correlation, reply routing, streams, MQTT 5 response topics.

Correlation (declared per request in the contract):

* ``envelope-id``: the request's envelope id is fresh; the reply's envelope ``id`` equals it
  (how the deployed 3.1.1 services answer).
* ``$message.payload#/<field>``: a payload field (e.g. ``call_id``) that the reply echoes.

Replies arrive on the contract's reply channel, which every requester subscribes to once (a
plain subscription, so it is re-established after every reconnect with the others). On MQTT 5
a request also carries a response topic (per client, ``mqttwire/reply/<client id>`` unless
configured) and the correlation as correlation data; a responder built on ``serve_*`` then
answers there, echoing the correlation data. Replies from 3.1.1 peers still arrive on the
contract's reply channel, so both kinds of responder work with one requester.

Streamed partial replies (``x-reply-stream``) come on their own channel, i.e. through another
subscription queue than the final reply. So that the final reply can never overtake deltas that
arrived before it, the final reply of a streaming request is handed over only once the stream
subscription has routed every message it had queued when the final reply was routed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mqttwire.codec import Codec
from mqttwire.dispatch import Subscription, require_async
from mqttwire.envelope import decode_envelope, new_message_id
from mqttwire.errors import NeedsMQTT5Error, RequestTimeoutError
from mqttwire.meta import MessageMeta
from mqttwire.observability.logs import log_fields
from mqttwire.safe_log import shown
from mqttwire.specs import ChannelSpec, InvalidPayload, RequestSpec, StreamingRequestSpec, lookup
from mqttwire.topic_filter import validate_topic_name
from mqttwire.transport import MessageProperties

if TYPE_CHECKING:
    from mqttwire.observability.tracing import Instrumentation

__all__ = ["RESPONSE_TOPIC_PREFIX", "Publish", "ReplyRouter", "Subscribe"]

log = logging.getLogger("mqttwire.typed")

M = TypeVar("M")
Q = TypeVar("Q")
R = TypeVar("R")
S = TypeVar("S")


class _Client(Protocol):
    """What the router needs of ``MQTTClient``: its id and raw subscriptions."""

    @property
    def client_id(self) -> str: ...

    async def subscribe(
        self,
        topic_filter: str,
        handler: Callable[[bytes, MessageMeta], Awaitable[None]],
        *,
        qos: int = 0,
    ) -> Subscription: ...


class Publish(Protocol):
    """How the router publishes a typed payload (the typed client's publish path)."""

    async def __call__(
        self,
        spec: ChannelSpec[M],
        payload: M,
        params: Mapping[str, str],
        *,
        correlation_id: str | None = None,
        topic: str | None = None,
        extra: MessageProperties | None = None,
    ) -> str | None: ...


class Subscribe(Protocol):
    """How the router subscribes a typed handler (the typed client's subscribe path)."""

    async def __call__(
        self,
        spec: ChannelSpec[M],
        handler: Callable[[M, MessageMeta], Awaitable[None]],
        filters: Mapping[str, str | None] | None = None,
        *,
        share_group: str | None = None,
    ) -> Subscription: ...


RESPONSE_TOPIC_PREFIX = "mqttwire/reply"
_INBOX = "<response topic>"  # waiter slot of replies that arrive on our MQTT 5 response topic


@dataclass(eq=False)
class _Waiter:
    """One request in flight: receives stream items and the final reply (or an error)."""

    spec: RequestSpec[object, object]
    key: str
    streaming: bool
    queue: asyncio.Queue[tuple[object, bool]] = field(  # a payload or an exception
        default_factory=asyncio.Queue
    )
    slots: list[tuple[str, str]] = field(default_factory=list)


class ReplyRouter:
    """The request/reply state of one :class:`~mqttwire.typed.TypedClient`: it decodes with
    the client's ``codec`` and publishes and serves through ``publish`` / ``subscribe`` (the
    typed client's own paths, so QoS, envelope and strictness are the same)."""

    def __init__(
        self,
        client: _Client,
        codec: Codec,
        *,
        publish: Publish,
        subscribe: Subscribe,
        response_topic: str | None = None,
        telemetry: Instrumentation | None = None,
    ) -> None:
        if response_topic is not None:
            validate_topic_name(response_topic)
        self._client = client
        self._codec = codec
        self._publish = publish
        self._subscribe = subscribe
        self._telemetry = telemetry
        self._response_topic = response_topic
        self._waiters: dict[tuple[str, str], _Waiter] = {}
        self._pointers: dict[str, set[tuple[str, ...]]] = {}
        self._headers: dict[str, set[str]] = {}  # user properties carrying correlation
        self._subs: dict[str, Any] = {}
        self._lock: asyncio.Lock | None = None
        self._routed: Counter[str] = Counter()  # messages routed per stream channel
        self._progress: dict[str, asyncio.Event] = {}

    @property
    def _mqtt5(self) -> bool:
        return getattr(self._client, "protocol", "3.1.1") == "5"

    @property
    def in_flight(self) -> int:
        """Requests waiting for their reply."""
        return len({id(w) for w in self._waiters.values()})

    @property
    def response_topic(self) -> str:
        """Where MQTT 5 responders send our replies (``mqttwire/reply/<client id>`` default)."""
        if self._response_topic is None:
            self._response_topic = f"{RESPONSE_TOPIC_PREFIX}/{self._client.client_id}"
        return self._response_topic

    def cancel_all(self) -> None:
        for waiter in {id(w): w for w in self._waiters.values()}.values():
            waiter.queue.put_nowait((asyncio.CancelledError("client shut down"), True))
        self._waiters.clear()

    # -- subscriptions ------------------------------------------------------------------------
    async def _subscribe_once(
        self,
        name: str,
        topic_filter: str,
        qos: int,
        route: Callable[[bytes, MessageMeta], Awaitable[None]],
    ) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if name not in self._subs:
                self._subs[name] = await self._client.subscribe(topic_filter, route, qos=qos)

    async def _ensure_channel(
        self,
        channel: ChannelSpec[object],
        pointer: tuple[str, ...] | None,
        header: str | None = None,
    ) -> None:
        """One raw subscription per reply (or stream) channel, routing to the waiting requests."""
        if pointer is not None:
            self._pointers.setdefault(channel.name, set()).add(pointer)
        if header is not None:
            self._headers.setdefault(channel.name, set()).add(header)
        if channel.name in self._subs:
            return  # subscribed already (every request after the first): no lock, no closure

        async def on_reply(payload: bytes, meta: MessageMeta) -> None:
            try:
                await self._route(channel, payload, meta)
            finally:
                self._advance(channel.name)

        await self._subscribe_once(
            channel.name, channel.template.filter(), channel.subscribe_qos, on_reply
        )

    async def _ensure_inbox(self) -> str:
        topic = self.response_topic
        if _INBOX not in self._subs:
            await self._subscribe_once(_INBOX, topic, 1, self._route_inbox)
        return topic

    # -- routing ------------------------------------------------------------------------------
    def _advance(self, name: str) -> None:
        self._routed[name] += 1
        event = self._progress.get(name)
        if event is not None:
            event.set()

    async def _stream_caught_up(self, stream: ChannelSpec[object], final_channel: str) -> None:
        """Wait until the stream subscription has routed what it had queued right now."""
        sub = self._subs.get(stream.name)
        if sub is None or stream.name == final_channel:
            return
        target = self._routed[stream.name] + getattr(sub, "pending", 0)
        event = self._progress.setdefault(stream.name, asyncio.Event())
        while self._routed[stream.name] < target and getattr(sub, "pending", 0) > 0:
            event.clear()
            await event.wait()

    async def _hand_over(self, waiter: _Waiter, item: object, final: bool, via: str) -> None:
        if final and waiter.streaming and waiter.spec.stream is not None:
            await self._stream_caught_up(waiter.spec.stream, via)
        waiter.queue.put_nowait((item, final))

    async def _route(self, channel: ChannelSpec[object], payload: bytes, meta: MessageMeta) -> None:
        codec = self._codec
        try:
            model, full = codec.decode(channel, payload, meta)
        except InvalidPayload as exc:
            error = codec.reject(channel, meta, exc)
            envelope = decode_envelope(payload) if channel.envelope else None
            waiter = self._waiters.get((channel.name, envelope.id)) if envelope else None
            if waiter is not None:
                await self._hand_over(waiter, error, True, channel.name)
            return
        keys: list[str] = [full.envelope_id] if full.envelope_id else []
        if meta.correlation_data is not None:
            with contextlib.suppress(UnicodeDecodeError):
                keys.append(meta.correlation_data.decode())
        for header in sorted(self._headers.get(channel.name, ())):
            if header in meta.user_properties:
                keys.append(meta.user_properties[header])
        if self._pointers.get(channel.name):
            dumped = codec.envelope_data(model)
            for pointer in sorted(self._pointers[channel.name]):
                value = lookup(dumped, pointer)
                if value is not None:
                    keys.append(value)
        for key in keys:
            waiter = self._waiters.get((channel.name, key))
            if waiter is not None:
                codec.stats.received[channel.name] += 1
                final = channel.name == waiter.spec.reply.name
                await self._hand_over(waiter, model, final, channel.name)
                return
        codec.stats.late_replies[channel.name] += 1
        log.debug(
            "dropped %s on %s: no request waits for it (keys %s)",
            channel.name,
            shown(meta.topic),
            shown(keys),
            extra=log_fields(
                topic=meta.topic,
                channel=channel.name,
                envelope_id=full.envelope_id,
                correlation_id=full.correlation_id,
            ),
        )

    async def _route_inbox(self, payload: bytes, meta: MessageMeta) -> None:
        """A reply on our MQTT 5 response topic: correlation data first, then the envelope id."""
        keys: list[str] = []
        if meta.correlation_data is not None:
            with contextlib.suppress(UnicodeDecodeError):
                keys.append(meta.correlation_data.decode())
        envelope = decode_envelope(payload)
        if envelope is not None:
            keys.append(envelope.id)
        waiter = next((w for k in keys if (w := self._waiters.get((_INBOX, k)))), None)
        if waiter is None:
            self._codec.stats.late_replies["response_topic"] += 1
            log.debug(
                "dropped a reply on %s: no request waits for it",
                shown(meta.topic),
                extra=log_fields(
                    topic=meta.topic,
                    envelope_id=envelope.id if envelope is not None else None,
                    correlation_id=keys[0] if keys else None,
                ),
            )
            return
        channel = waiter.spec.reply
        try:
            model, _full = self._codec.decode(channel, payload, meta)
        except InvalidPayload as exc:
            error = self._codec.reject(channel, meta, exc)
            await self._hand_over(waiter, error, True, _INBOX)
            return
        self._codec.stats.received[channel.name] += 1
        await self._hand_over(waiter, model, True, _INBOX)

    # -- requester ----------------------------------------------------------------------------
    async def _start(
        self,
        spec: RequestSpec[object, object],
        payload: object,
        params: Mapping[str, str],
        *,
        streaming: bool,
    ) -> _Waiter:
        pointer = spec.payload_pointer
        header = spec.header_name
        if spec.needs_mqtt5 and not self._mqtt5:
            raise NeedsMQTT5Error(spec.request.name, f"correlation {spec.correlation}")
        if (
            pointer is None
            and not spec.needs_mqtt5
            and not (spec.request.envelope and spec.reply.envelope)
        ):
            raise TypeError(
                f"{spec.request.name}: envelope-id correlation needs enveloped channels"
            )
        await self._ensure_channel(spec.reply, pointer, header)
        if spec.stream is not None:
            await self._ensure_channel(spec.stream, pointer, header)
        if pointer is None:
            key = new_message_id()
        else:
            found = lookup(self._codec.envelope_data(payload), pointer)
            if found is None:
                raise ValueError(
                    f"{spec.request.name}: the request has no correlation value at {spec.correlation}"
                )
            key = found
        waiter = _Waiter(spec, key, streaming)
        waiter.slots.append((spec.reply.name, key))
        if spec.stream is not None:
            waiter.slots.append((spec.stream.name, key))
        extra = None
        if self._mqtt5:
            topic = await self._ensure_inbox()
            waiter.slots.append((_INBOX, key))
            headers = [(header, key)] if header is not None else []
            if spec.reply_to is not None:
                headers.append((spec.reply_to, topic))
            extra = MessageProperties(
                response_topic=topic, correlation_data=key.encode(), user_properties=tuple(headers)
            )
        for slot in waiter.slots:
            self._waiters[slot] = waiter
        try:
            await self._publish(
                spec.request,
                payload,
                params,
                correlation_id=key if spec.correlation == "envelope-id" else None,
                extra=extra,
            )
        except BaseException:
            self._finish(waiter)
            raise
        return waiter

    def _finish(self, waiter: _Waiter) -> None:
        for slot in waiter.slots:
            if self._waiters.get(slot) is waiter:
                del self._waiters[slot]

    async def request(
        self,
        spec: RequestSpec[Q, R],
        payload: Q,
        params: Mapping[str, str],
        *,
        timeout: float,  # noqa: ASYNC109 - a deadline for the reply, part of the public API
    ) -> R:
        """Publish ``payload`` and wait for the correlated reply (stream items are skipped)."""
        telemetry = self._telemetry
        if telemetry is None:
            return await self._request(spec, payload, params, timeout)
        topic = spec.request.topic_for(params)
        return await telemetry.request(
            spec.request, topic, lambda: self._request(spec, payload, params, timeout)
        )

    async def _request(
        self,
        spec: RequestSpec[Q, R],
        payload: Q,
        params: Mapping[str, str],
        timeout: float,  # noqa: ASYNC109
    ) -> R:
        waiter = await self._start(spec, payload, params, streaming=False)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    item, final = await waiter.queue.get()
                    if isinstance(item, BaseException):
                        raise item
                    if final:
                        return item  # type: ignore[return-value]  # decoded by spec.reply: an R
        except TimeoutError:
            raise RequestTimeoutError(spec.request.topic_for(params), waiter.key, timeout) from None
        finally:
            self._finish(waiter)

    async def stream(
        self,
        spec: StreamingRequestSpec[Q, R, S],
        payload: Q,
        params: Mapping[str, str],
        *,
        timeout: float,  # noqa: ASYNC109 - overall deadline for the whole exchange
    ) -> AsyncIterator[R | S]:
        """Publish ``payload``; yield each streamed partial reply, then the final reply."""
        telemetry = self._telemetry
        if telemetry is None:
            waiter = await self._start(spec, payload, params, streaming=True)
            async with contextlib.aclosing(self._stream(spec, params, waiter, timeout)) as items:
                async for item in items:
                    yield item
            return
        span = telemetry.request_span(spec.request, spec.request.topic_for(params))
        try:
            with span.current():
                waiter = await self._start(spec, payload, params, streaming=True)
            async with contextlib.aclosing(self._stream(spec, params, waiter, timeout)) as items:
                async for item in items:
                    yield item
        except BaseException as exc:
            span.fail(exc)
            raise
        finally:
            span.end()

    async def _stream(
        self,
        spec: StreamingRequestSpec[Q, R, S],
        params: Mapping[str, str],
        waiter: _Waiter,
        timeout: float,  # noqa: ASYNC109
    ) -> AsyncGenerator[R | S, None]:
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        item, final = await waiter.queue.get()
                except TimeoutError:
                    raise RequestTimeoutError(
                        spec.request.topic_for(params), waiter.key, timeout
                    ) from None
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]  # decoded by spec.stream or spec.reply
                if final:
                    return
        finally:
            self._finish(waiter)

    # -- responder ----------------------------------------------------------------------------
    async def serve(
        self,
        spec: RequestSpec[Q, R],
        handler: Callable[[Q, MessageMeta], Awaitable[R]],
        filters: Mapping[str, str | None] | None = None,
        *,
        share_group: str | None = None,
    ) -> Subscription:
        """Answer requests with the handler's return value: on the request's MQTT 5 response
        topic when it has one (echoing its correlation data), else on the contract's reply
        channel; the reply's envelope id is the request's (``envelope-id`` correlation), and for
        payload correlation the handler copies the field (e.g. ``call_id``) into its reply."""
        header = spec.header_name
        require_async(handler, spec.request.name)

        async def answer(request: Q, meta: MessageMeta) -> None:
            reply = await handler(request, meta)
            params = {
                name: meta.params[name]
                for name in spec.reply.template.params
                if name in meta.params
            }
            echoed = (
                ((header, meta.user_properties[header]),)
                if header is not None and header in meta.user_properties
                else ()
            )
            extra = None
            if meta.correlation_data is not None or echoed:
                extra = MessageProperties(
                    correlation_data=meta.correlation_data, user_properties=echoed
                )
            topic = meta.response_topic
            if topic is None and spec.reply_to is not None:
                topic = meta.user_properties.get(spec.reply_to)
                if topic is not None:
                    validate_topic_name(topic)  # from the network: must be a plain topic
            await self._publish(
                spec.reply,
                reply,
                params,
                correlation_id=meta.envelope_id if spec.reply.may_carry_envelopes else None,
                topic=topic,
                extra=extra,
            )

        # errors are logged under the user's handler, not this wrapper
        answer.__qualname__ = getattr(handler, "__qualname__", type(handler).__qualname__)
        return await self._subscribe(spec.request, answer, filters, share_group=share_group)
