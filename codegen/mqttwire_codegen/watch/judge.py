"""Judge one MQTT message against a contract: which channel it belongs to and what is wrong.

Pure and synchronous (no I/O, no clock): :meth:`Judge.judge` takes what arrived (topic, payload,
QoS, retain flag, MQTT 5 content type) and returns a :class:`Verdict` with zero or more
:class:`Finding` s. It checks what a generated subscriber checks (envelope, event type, topic
parameters, payload against the contract's JSON Schema, content type) and what a subscriber
cannot see (arrival QoS and retain flag against the contract, undeclared topics and publishers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from mqttwire.envelope import decode_envelope_fields
from mqttwire.errors import TopicParameterError
from mqttwire.topic_template import ParamSpec, TopicTemplate, validate_param_value
from mqttwire_codegen.ir import Channel, Contract, Message
from mqttwire_codegen.watch.findings import (
    FAIL_ON_GROUPS,
    Finding,
    FindingClass,
    Verdict,
    parse_fail_on,
)

__all__ = [
    "FAIL_ON_GROUPS",
    "RUNTIME_REPLY_PREFIX",
    "Finding",
    "FindingClass",
    "Judge",
    "Verdict",
    "parse_fail_on",
]

RUNTIME_REPLY_PREFIX = "mqttwire/reply/"
"""MQTT 5 replies of mqttwire clients go to ``mqttwire/reply/<client id>`` (response topic)."""

_DETAIL_MAX = 300


def _short(text: str) -> str:
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 3] + "..."


class _ChannelRule:
    """One channel, prepared for judging: topic matcher and one validator per message."""

    def __init__(self, channel: Channel, defs: Mapping[str, Mapping[str, Any]]) -> None:
        self.channel = channel
        self.template = TopicTemplate(
            channel.topic.address or "",
            [ParamSpec(p.name, p.enum) for p in channel.topic.parameters],
        )
        self.enveloped = tuple(m for m in channel.messages if m.envelope)
        self.bare = tuple(m for m in channel.messages if not m.envelope)
        self.event_types = frozenset(m.name for m in self.enveloped)
        self.content_types = frozenset(
            m.content_type for m in channel.messages if m.content_type is not None
        )
        self.validators = {m.key: _validator(m, defs) for m in channel.messages}
        publishers = channel.publishers
        self.publishers = None if not publishers or "*" in publishers else frozenset(publishers)

    def check_payload(self, messages: Sequence[Message], data: Any) -> str | None:
        """``None`` when ``data`` is valid for one of ``messages``, else the first error."""
        first: str | None = None
        for message in messages:
            validator = self.validators[message.key]
            if validator.is_valid(data):
                return None
            error = best_match(validator.iter_errors(data))
            if first is None:
                where = "/".join(str(p) for p in error.absolute_path) or "payload"
                first = f"not a valid {message.class_name}: {where}: {error.message}"
        return first


def _validator(message: Message, defs: Mapping[str, Mapping[str, Any]]) -> Draft202012Validator:
    # the model's schema at the root (a root "$ref" costs a resolution per message)
    root = defs.get(message.class_name, message.payload_schema)
    return Draft202012Validator({**root, "$defs": dict(defs)})


class Judge:
    """Classifies messages against one contract (build once, call :meth:`judge` per message).

    ``subscription_qos`` is the QoS the watcher subscribed with: a message arrives at
    ``min(publish QoS, subscription QoS)``, so the declared QoS is compared capped at it.
    ``publisher_aliases`` maps envelope sources to the service names of ``x-publishers``
    (a deployment whose client ids differ from the contract's names: ``tars-router-1=router``).
    """

    def __init__(
        self,
        contract: Contract,
        *,
        subscription_qos: int = 2,
        publisher_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.contract = contract
        self.subscription_qos = subscription_qos
        self.publisher_aliases = dict(publisher_aliases or {})
        rules = [
            _ChannelRule(ch, contract.schema_defs)
            for ch in contract.channels
            if ch.topic.address is not None  # given at runtime: nothing to match on the wire
        ]
        self._static = {r.channel.topic.address: r for r in rules if r.template.is_static}
        self._templated = [r for r in rules if not r.template.is_static]
        self._filters = {r.channel.id: r.template.filter() for r in rules}

    def channel_filter(self, channel_id: str) -> str:
        """The subscription filter of a channel (parameters as ``+``)."""
        return self._filters[channel_id]

    def channel_for(self, topic: str) -> tuple[_ChannelRule, dict[str, str]] | None:
        rule = self._static.get(topic)
        if rule is not None:
            return rule, {}
        for rule in self._templated:
            params = rule.template.match(topic)
            if params is not None:
                return rule, params
        return None

    def channel_name(self, topic: str) -> str | None:
        """The id of the channel that declares ``topic``, or ``None``."""
        found = self.channel_for(topic)
        return None if found is None else found[0].channel.id

    def judge(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int,
        retain: bool,
        content_type: str | None = None,
    ) -> Verdict:
        found = self.channel_for(topic)
        if found is None:
            if topic.startswith(RUNTIME_REPLY_PREFIX):
                return Verdict(None)  # an MQTT 5 reply on a client's response topic
            return Verdict(
                None, (Finding(FindingClass.UNDECLARED_TOPIC, "no channel declares this topic"),)
            )
        rule, params = found
        findings: list[Finding] = []
        self._check_parameters(rule, params, findings)
        self._check_delivery(rule, qos, retain, findings)
        if (
            content_type is not None
            and rule.content_types
            and content_type not in rule.content_types
        ):
            findings.append(
                Finding(
                    FindingClass.CONTENT_TYPE_MISMATCH,
                    _short(
                        f"content type {content_type!r}, contract says "
                        f"{' or '.join(sorted(rule.content_types))}"
                    ),
                )
            )
        self._check_body(rule, payload, findings)
        return Verdict(rule.channel.id, tuple(findings))

    @staticmethod
    def _check_parameters(
        rule: _ChannelRule, params: Mapping[str, str], findings: list[Finding]
    ) -> None:
        for name, value in params.items():
            try:
                validate_param_value(name, value, rule.template.params[name].enum)
            except TopicParameterError as exc:
                findings.append(Finding(FindingClass.INVALID_TOPIC_PARAMETER, _short(str(exc))))

    def _check_delivery(
        self, rule: _ChannelRule, qos: int, retain: bool, findings: list[Finding]
    ) -> None:
        policy = rule.channel.publish_policy
        expected = min(policy.qos, self.subscription_qos)
        if qos != expected:
            findings.append(
                Finding(
                    FindingClass.QOS_MISMATCH,
                    f"arrived at QoS {qos}, the contract publishes at QoS {policy.qos}",
                )
            )
        if retain and not policy.retain:
            findings.append(
                Finding(
                    FindingClass.RETAINED_NOT_DECLARED,
                    "a retained message on a channel the contract does not retain",
                )
            )

    def _check_body(self, rule: _ChannelRule, payload: bytes, findings: list[Finding]) -> None:
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            findings.append(Finding(FindingClass.INVALID_PAYLOAD, _short(f"not JSON: {exc}")))
            return
        looks_enveloped = isinstance(obj, dict) and "type" in obj and "data" in obj
        if rule.enveloped and (looks_enveloped or not rule.bare):
            fields = decode_envelope_fields(payload)
            if fields is None:
                findings.append(
                    Finding(
                        FindingClass.INVALID_ENVELOPE,
                        "expected the envelope {id, type, ts, source, data}",
                    )
                )
                return
            candidates = [m for m in rule.enveloped if m.name == fields.type]
            if not candidates:
                findings.append(
                    Finding(
                        FindingClass.WRONG_EVENT_TYPE,
                        _short(
                            f"event type {fields.type!r}, the channel carries "
                            f"{', '.join(sorted(rule.event_types))}"
                        ),
                    )
                )
                candidates = list(rule.enveloped)
            source = obj.get("source") if isinstance(obj, dict) else None
            if isinstance(source, str):
                source = self.publisher_aliases.get(source, source)
            if (
                rule.publishers is not None
                and isinstance(source, str)
                and source not in rule.publishers
            ):
                findings.append(
                    Finding(
                        FindingClass.UNDECLARED_PUBLISHER,
                        _short(
                            f"source {source!r}, the contract lists "
                            f"{', '.join(sorted(rule.publishers))}"
                        ),
                    )
                )
            error = rule.check_payload(candidates, fields.data)
        else:
            error = rule.check_payload(rule.bare or rule.enveloped, obj)
        if error is not None:
            findings.append(Finding(FindingClass.INVALID_PAYLOAD, _short(error)))
