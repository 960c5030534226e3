"""What goes on the wire, checked against the contract's own JSON Schemas (``jsonschema``).

``ContractWire(path).errors(topic, payload)`` finds the channel of ``topic`` in the contract,
decodes ``payload`` the way the message's ``contentType`` says (JSON by default, plain text,
raw bytes; the envelope's ``data`` on enveloped channels) and validates it against the message's
payload schema as the contract states it (not against the generated models). ``CapturingTransport``
records every publish a client makes, whatever the broker.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from mqttwire.content import decode_body, wire_format
from mqttwire.paho_transport import PahoTransport
from mqttwire.topic_template import TopicTemplate
from mqttwire.transport import MessageProperties, Transport
from mqttwire_codegen.api import load_contract

_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 date-time (``jsonschema`` checks it only with an optional package)."""
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    if "T" not in value.upper() or parsed.tzinfo is None:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time (date, T, time and offset)")
    return True


@dataclass(frozen=True)
class _Message:
    name: str
    schema: dict[str, Any]
    content_type: str | None
    enveloped: bool


class ContractWire:
    """The channels of a contract, ready to check payloads seen on the wire."""

    def __init__(self, contract: Path, response_prefix: str = "mqttwire/reply/") -> None:
        ir, _ = load_contract(contract)
        self.response_prefix = response_prefix
        replies = {op.reply.channel_id for op in ir.requests if op.reply is not None}
        replies |= {op.reply_stream_channel_id for op in ir.requests if op.reply_stream_channel_id}
        defs = {name: dict(body) for name, body in ir.schema_defs.items()}
        self.channels: list[tuple[TopicTemplate, list[_Message]]] = []
        # an MQTT 5 reply goes to the requester's response topic: any reply message fits there
        self.reply_messages: list[_Message] = []
        for ch in ir.channels:
            messages = [
                _Message(
                    m.name,
                    {**dict(m.payload_schema), "$defs": defs},
                    m.content_type,
                    m.envelope,
                )
                for m in ch.messages
            ]
            self.channels.append((TopicTemplate(ch.topic.address), messages))
            if ch.id in replies:
                self.reply_messages.extend(messages)

    def errors(self, topic: str, payload: bytes) -> list[str]:
        """Why ``payload`` on ``topic`` breaks the contract (empty when one message fits)."""
        found: list[str] = []
        channels = self.channels
        if topic.startswith(self.response_prefix):
            channels = [(TopicTemplate(topic), self.reply_messages)]
        for template, messages in channels:
            if template.match(topic) is None:
                continue
            for message in messages:
                problem = self._check(message, payload)
                if problem is None:
                    return []
                found.append(f"{message.name}: {problem}")
        return found or [f"no channel of the contract has the topic {topic!r}"]

    @staticmethod
    def _check(message: _Message, payload: bytes) -> str | None:
        fmt = wire_format(message.content_type)
        try:
            value: Any = decode_body(payload, fmt) if not message.enveloped else None
            if message.enveloped:
                value = orjson.loads(payload)["data"]
        except (ValueError, KeyError, TypeError) as exc:
            return f"cannot decode as {fmt}: {exc}"
        if fmt == "bytes":
            # a binary payload travels as itself; the schema speaks of a (binary) string
            return None if message.schema.get("type") == "string" else "bytes for a non-string"
        validator = jsonschema.validators.validator_for(message.schema)
        error = jsonschema.exceptions.best_match(
            validator(message.schema, format_checker=_FORMATS).iter_errors(value)
        )
        return None if error is None else f"{list(error.absolute_path)}: {error.message}"


def default_transport() -> Transport:
    """The runtime's own MQTT transport."""
    return PahoTransport()


class CapturingTransport:
    """A transport that records ``(topic, payload)`` of every publish, then forwards it; every
    other call goes to the wrapped transport unchanged."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.published: list[tuple[str, bytes]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def native(self) -> object | None:
        return self.inner.native

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        ack_timeout: float,
        *,
        properties: MessageProperties | None = None,
    ) -> None:
        self.published.append((topic, payload))
        if properties is None:  # as the client does: transports without MQTT 5 never see it
            await self.inner.publish(topic, payload, qos, retain, ack_timeout)
        else:
            await self.inner.publish(
                topic, payload, qos, retain, ack_timeout, properties=properties
            )


@functools.cache
def tars_wire() -> ContractWire:
    """The TARS contract (contracts/mqtt_client_api.yaml), loaded once."""
    return ContractWire(Path(__file__).resolve().parents[1] / "contracts" / "mqtt_client_api.yaml")
