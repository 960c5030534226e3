"""The codec of the typed layer: payloads in and out of a contract's channels, and what it saw.

One :class:`Codec` serves a typed client, its request router and (in tests) its test kit:

* :meth:`Codec.decode` turns received bytes into the channel's model (envelope first, bare
  JSON / text / bytes fallback on enveloped channels) and fills :class:`MessageMeta` from the
  envelope; what does not fit raises :class:`~mqttwire.specs.InvalidPayload`.
* :meth:`Codec.reject` counts, logs (rate-limited) and reports an invalid payload, and returns
  the :class:`PayloadValidationError` for the caller to keep, hand on or raise.
* :meth:`Codec.outgoing` picks the message a payload is published as, wraps a ``str`` /
  ``bytes`` payload of a plain-text or binary message in its model and, when strict, checks that
  the payload validates; :meth:`Codec.envelope_data` / :meth:`Codec.body` encode it.
* :attr:`Codec.stats` counts per channel. A *strict* codec (``Codec(strict=True)``, what
  ``mqttwire.testing.for_testing`` uses) raises on invalid payloads in and out, and keeps
  handler errors for the test (:meth:`Codec.take_errors`).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from mqttwire.content import WireFormat, decode_body, encode_body
from mqttwire.envelope import EnvelopeFields, decode_envelope_fields
from mqttwire.errors import PayloadValidationError
from mqttwire.meta import MessageMeta
from mqttwire.observability.logs import log_fields
from mqttwire.safe_log import RateLimitedLog, shown
from mqttwire.specs import AnyMessageSpec, ChannelSpec, InvalidPayload, RawMessageSpec

if TYPE_CHECKING:
    from mqttwire.observability.tracing import Instrumentation

__all__ = ["Codec", "TypedStats"]

log = logging.getLogger("mqttwire.typed")  # the typed layer's logger (names in docs and alerts)
_LIMITED = RateLimitedLog(log)

M = TypeVar("M")

_UNDECODABLE = object()
_FORMAT_NAMES: Mapping[WireFormat, str] = {"json": "JSON", "text": "UTF-8 text", "bytes": "bytes"}


@dataclass(slots=True)
class TypedStats:
    """Counters of the typed layer (per channel name)."""

    received: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    late_replies: Counter[str] = field(default_factory=Counter)
    cleared: Counter[str] = field(default_factory=Counter)  # empty payloads on retained channels

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())


def _with_envelope(
    meta: MessageMeta, params: Mapping[str, str], envelope: EnvelopeFields
) -> MessageMeta:
    """``replace(meta, params=..., <envelope fields>)`` spelled out: 1 µs less per message
    than ``dataclasses.replace``. Every field of :class:`MessageMeta` is listed (tested)."""
    return MessageMeta(
        topic=meta.topic,
        qos=meta.qos,
        retain=meta.retain,
        params=params,
        envelope_id=envelope.id,
        event_type=envelope.type,
        source=envelope.source,
        ts=envelope.ts,
        correlation_id=envelope.id,
        user_properties=meta.user_properties,
        response_topic=meta.response_topic,
        correlation_data=meta.correlation_data,
        content_type=meta.content_type,
        message_expiry_interval=meta.message_expiry_interval,
    )


def _outgoing_error(
    topic: str, message: AnyMessageSpec, exc: ValidationError
) -> PayloadValidationError:
    errors = exc.errors(include_url=False)
    return PayloadValidationError(
        topic, message.model.__name__, errors, f"outgoing: {errors[0]['msg']}"
    )


def _non_finite(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """Where a validated model holds NaN or an infinity (``None`` if nowhere)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found = _non_finite(getattr(value, name, None), (*path, name))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _non_finite(item, (*path, index))
            if found is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, (*path, key))
            if found is not None:
                return found
    return None


class Codec:
    """Decode, validate and encode typed payloads; count them; strict or lenient.

    ``telemetry`` (the OpenTelemetry instrumentation of the client, if any) is told about
    invalid payloads. Lenient (the default): invalid payloads are counted and logged, never
    handed over. Strict: they raise :class:`PayloadValidationError`, outgoing payloads are
    validated before they leave, and errors (also of handlers) are kept until
    :meth:`take_errors`.
    """

    __slots__ = ("_errors", "_strict", "_telemetry", "stats")

    def __init__(self, *, strict: bool = False, telemetry: Instrumentation | None = None) -> None:
        self._strict = strict
        self._telemetry = telemetry
        self._errors: list[BaseException] = []
        self.stats = TypedStats()

    @property
    def strict(self) -> bool:
        """True for a test codec: invalid payloads raise, errors are kept for the test."""
        return self._strict

    # -- errors kept in strict mode -----------------------------------------------------------
    def keep(self, error: BaseException) -> None:
        """In strict mode: remember ``error`` (a handler's, or an invalid payload) for the test."""
        if self._strict:
            self._errors.append(error)

    def take_errors(self) -> list[BaseException]:
        """The errors kept so far (and forget them)."""
        errors, self._errors = self._errors, []
        return errors

    @property
    def errors(self) -> list[BaseException]:
        """The errors kept so far, not yet taken (a copy)."""
        return list(self._errors)

    # -- out ----------------------------------------------------------------------------------
    def outgoing(
        self, spec: ChannelSpec[object], payload: object, event_type: str | None, topic: str
    ) -> tuple[AnyMessageSpec, BaseModel]:
        """The message ``payload`` is published as on ``spec`` (``event_type`` picks one of
        several that share its model) and the model to encode; strict: it must validate
        (catches ``model_construct`` and mutation after construction)."""
        message = spec.message_for(payload, event_type)
        model = self.wrap(message, payload, topic)
        if self._strict and model is payload:
            mode = "json" if message.wire == "json" else "python"
            data = model.model_dump(mode=mode, by_alias=True, warnings=False)
            try:
                message.validator.model_validate(data)
            except ValidationError as exc:
                raise _outgoing_error(topic, message, exc) from None
        return message, model

    @staticmethod
    def wrap(message: AnyMessageSpec, payload: object, topic: str) -> BaseModel:
        """The model of ``payload``: itself, or for a plain-text or binary message the ``str`` /
        ``bytes`` validated by the message's model (:class:`PayloadValidationError` if not)."""
        if isinstance(message, RawMessageSpec) and not isinstance(payload, message.model):
            try:
                return message.model.model_validate(payload)
            except ValidationError as exc:
                raise _outgoing_error(topic, message, exc) from None
        if not isinstance(payload, BaseModel):
            raise TypeError(f"{topic}: a {message.model.__name__} is published, not {payload!r}")
        return payload

    @staticmethod
    def envelope_data(payload: object) -> Any:
        """What goes into an envelope's ``data``: the payload as JSON-ready values (aliases)."""
        if isinstance(payload, BaseModel):
            return payload.model_dump(mode="json", by_alias=True)
        return payload

    @staticmethod
    def body(message: AnyMessageSpec, payload: BaseModel) -> bytes:
        """The bytes of a payload sent without envelope (JSON, text or raw bytes)."""
        return encode_body(payload, message.wire)

    # -- in -----------------------------------------------------------------------------------
    def decode(
        self, spec: ChannelSpec[M], payload: bytes, meta: MessageMeta
    ) -> tuple[M, MessageMeta]:
        """The model and full metadata of a received payload; raises :class:`InvalidPayload`."""
        template = spec.topic  # None: a channel without address (no parameters)
        params = (template.match(meta.topic) or {}) if template is not None else {}
        problem = template.check(params) if template is not None and params else None
        if problem is not None:
            raise InvalidPayload(problem, [], "/".join(m.model.__name__ for m in spec.messages))
        candidates = spec.messages
        data: Any
        envelope = decode_envelope_fields(payload) if spec.may_carry_envelopes else None
        if envelope is not None:
            typed = tuple(
                m for m in candidates if m.event_type == envelope.type and spec.enveloped(m)
            )
            if not typed:
                names = "/".join(c.model.__name__ for c in candidates)
                expected = ", ".join(sorted({m.event_type for m in candidates}))
                raise InvalidPayload(
                    f"envelope type {shown(envelope.type, 80)} is not one of this channel's "
                    f"({expected})",
                    [],
                    names,
                )
            candidates = typed
            data = envelope.data
            meta = _with_envelope(meta, params, envelope)
        else:
            meta = replace(meta, params=params)
        decoded: dict[WireFormat, Any] = {}
        errors: list[Any] = []
        undecodable = ""
        for candidate in candidates:
            if envelope is None:
                fmt = candidate.wire
                if fmt not in decoded:
                    try:
                        decoded[fmt] = decode_body(payload, fmt)
                    except ValueError as exc:
                        decoded[fmt] = _UNDECODABLE
                        undecodable = undecodable or f"not {_FORMAT_NAMES[fmt]}: {exc}"
                data = decoded[fmt]
                if data is _UNDECODABLE:
                    continue
            try:
                if isinstance(candidate, RawMessageSpec):
                    return candidate.model.model_validate(data).root, meta
                model = candidate.validator.model_validate(data)
            except ValidationError as exc:
                errors.extend(exc.errors(include_url=False))
                continue
            bad_at = _non_finite(model)
            if bad_at is None:
                return cast(M, model), meta  # validated by a model of ``spec``: an M
            # JSON has no NaN or infinity; pydantic would take "nan"/"inf" strings for floats.
            errors.append({"loc": bad_at, "msg": "number must be finite (JSON has no NaN/inf)"})
        names = "/".join(c.model.__name__ for c in candidates)
        if undecodable and not errors:
            raise InvalidPayload(undecodable, [], names)
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        raise InvalidPayload(
            f"not a valid {names}: {where}: {first.get('msg', 'invalid')}", errors, names
        )

    def reject(
        self, spec: ChannelSpec[object], meta: MessageMeta, problem: InvalidPayload
    ) -> PayloadValidationError:
        """Count, log and report an invalid payload; returns the error to raise, keep (see
        :meth:`keep`) or hand on."""
        self.stats.invalid[spec.name] += 1
        if self._telemetry is not None:
            self._telemetry.annotate(spec.name, meta, invalid=problem.reason)
        _LIMITED.warning(
            f"invalid {spec.name}",
            "dropped invalid message on %s (channel %s): %s",
            shown(meta.topic),
            spec.name,
            shown(problem.reason),
            extra=log_fields(topic=meta.topic, channel=spec.name),
        )
        return PayloadValidationError(meta.topic, problem.model, problem.errors, problem.reason)
