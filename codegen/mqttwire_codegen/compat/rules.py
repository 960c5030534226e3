"""The rules table. Direction is judged per topic: publishers are the services that send a
message, subscribers the ones that receive it, and either side may be upgraded first.

"Breaks publishers" means payloads or topics that existing publishers produce are no longer
accepted by upgraded subscribers. "Breaks subscribers" means upgraded publishers may produce
something existing subscribers reject or misread.
"""

from __future__ import annotations

from mqttwire_codegen.compat.changes import Breaks, Rule

P, S, B, N = Breaks.PUBLISHERS, Breaks.SUBSCRIBERS, Breaks.BOTH, Breaks.NOBODY


def _rule(rule_id: str, breaks: Breaks, why: str) -> Rule:
    return Rule(rule_id, breaks, why)


# --- channels, operations, parameters -------------------------------------------------------
CHANNEL_ADDED = _rule("channel-added", N, "a new topic; nobody uses it yet")
CHANNEL_REMOVED = _rule(
    "channel-removed", B, "services still publishing or subscribing to the topic lose their peer"
)
ADDRESS_CHANGED = _rule(
    "address-changed", B, "old and new services publish and subscribe on different topics"
)
CHANNEL_ID_RENAMED = _rule(
    "channel-id-renamed",
    N,
    "same topic on the wire; generated method names change (source-level only)",
)
OPERATION_ADDED = _rule(
    "operation-added", N, "the application does something new; nothing changes for others"
)
SEND_REMOVED = _rule(
    "send-operation-removed",
    S,
    "subscribers of the topic no longer receive what the application sent",
)
RECEIVE_REMOVED = _rule(
    "receive-operation-removed", P, "publishers to the topic lose the application as a receiver"
)
ACTION_CHANGED = _rule("action-changed", B, "the application reverses direction on the topic")
PARAMETER_ADDED = _rule("parameter-added", B, "the topic gains a level: old topics no longer match")
PARAMETER_REMOVED = _rule(
    "parameter-removed", B, "the topic loses a level: old topics no longer match"
)
PARAMETER_RENAMED = _rule(
    "parameter-renamed", N, "same topic shape on the wire; generated keyword arguments change name"
)
PARAMETER_ENUM_NARROWED = _rule(
    "parameter-enum-narrowed", P, "topic values existing publishers use are no longer allowed"
)
PARAMETER_ENUM_WIDENED = _rule(
    "parameter-enum-widened", S, "subscribers may see topic values they do not know"
)
PARAMETER_ENUM_ADDED = _rule(
    "parameter-enum-added", P, "a free topic level became a closed set: other values are rejected"
)
PARAMETER_ENUM_REMOVED = _rule(
    "parameter-enum-removed", S, "a closed topic level became free: subscribers may see any value"
)

# --- messages -------------------------------------------------------------------------------
MESSAGE_ADDED = _rule(
    "message-added", S, "existing subscribers receive an event type they do not know"
)
MESSAGE_REMOVED = _rule(
    "message-removed", P, "existing publishers still send an event type upgraded subscribers reject"
)
MESSAGE_RENAMED = _rule(
    "message-renamed",
    B,
    "the event type on the wire changes; old and new sides do not recognise each other",
)
CONTENT_TYPE_CHANGED = _rule(
    "content-type-changed",
    B,
    "payload bytes are encoded differently; neither side can decode the other",
)
ENVELOPE_CHANGED = _rule(
    "envelope-changed", B, "payloads are wrapped differently (envelope vs bare JSON)"
)

# --- payload schemas ------------------------------------------------------------------------
PROPERTY_ADDED_OPTIONAL_OPEN = _rule(
    "property-added-optional", N, "optional field in an open object: old sides ignore or omit it"
)
PROPERTY_ADDED_OPTIONAL_CLOSED = _rule(
    "property-added-optional-closed",
    S,
    "old subscribers forbid unknown fields (additionalProperties: false) and reject it when sent",
)
PROPERTY_ADDED_REQUIRED_OPEN = _rule(
    "property-added-required", P, "existing publishers do not send the new required field"
)
PROPERTY_ADDED_REQUIRED_CLOSED = _rule(
    "property-added-required-closed",
    B,
    "existing publishers do not send it, and old subscribers forbid it as an unknown field",
)
PROPERTY_REMOVED_OPTIONAL_OPEN = _rule(
    "property-removed-optional", N, "optional field in an open object: its absence is allowed"
)
PROPERTY_REMOVED_OPTIONAL_CLOSED = _rule(
    "property-removed-optional-closed",
    P,
    "existing publishers may still send it and the closed new schema rejects it",
)
PROPERTY_REMOVED_REQUIRED_OPEN = _rule(
    "property-removed-required",
    S,
    "old subscribers require a field upgraded publishers stop sending",
)
PROPERTY_REMOVED_REQUIRED_CLOSED = _rule(
    "property-removed-required-closed",
    B,
    "old subscribers require it, and the closed new schema rejects it from old publishers",
)
OPTIONAL_TO_REQUIRED = _rule(
    "property-became-required", P, "existing publishers may omit a field that is now required"
)
REQUIRED_TO_OPTIONAL = _rule(
    "property-became-optional", S, "old subscribers require a field upgraded publishers may omit"
)
TYPE_CHANGED = _rule("type-changed", B, "the value's type changed incompatibly")
TYPE_NARROWED = _rule(
    "type-narrowed", P, "values existing publishers send (e.g. non-integers, null) are rejected"
)
TYPE_WIDENED = _rule(
    "type-widened",
    S,
    "upgraded publishers may send values (e.g. floats, null) old subscribers reject",
)
ENUM_VALUE_REMOVED = _rule(
    "enum-value-removed", P, "existing publishers may still send the removed value"
)
ENUM_VALUE_ADDED = _rule(
    "enum-value-added", S, "old subscribers reject the new value when it is sent"
)
ENUM_ADDED = _rule("enum-added", P, "a free value became a closed set")
ENUM_REMOVED = _rule(
    "enum-removed", S, "a closed set became free: old subscribers reject new values"
)
CONST_CHANGED = _rule("const-changed", B, "the only allowed value changed")
CONSTRAINT_TIGHTENED = _rule(
    "constraint-tightened", P, "values existing publishers send may now be out of range"
)
CONSTRAINT_LOOSENED = _rule(
    "constraint-loosened", S, "upgraded publishers may send values old subscribers reject"
)
ADDITIONAL_PROPERTIES_OPENED = _rule(
    "additional-properties-opened", S, "upgraded publishers may add fields old subscribers forbid"
)
ADDITIONAL_PROPERTIES_CLOSED = _rule(
    "additional-properties-closed", P, "extra fields existing publishers send are now rejected"
)
DEFAULT_CHANGED = _rule(
    "default-changed", N, "wire-compatible, but an omitted field now means something else"
)
FORMAT_CHANGED = _rule("format-changed", B, "the string format changed (e.g. date-time -> uuid)")
SCHEMA_COMPOSITION_CHANGED = _rule(
    "schema-composition-changed", B, "oneOf/anyOf/allOf changed; not analysed further, assume both"
)

# --- MQTT bindings --------------------------------------------------------------------------
QOS_LOWERED = _rule("qos-lowered", S, "subscribers lose a delivery guarantee they may rely on")
QOS_RAISED = _rule("qos-raised", N, "a stronger guarantee; receivers already handle it")
RETAIN_ENABLED = _rule(
    "retain-enabled", S, "new subscribers get a stale retained message on subscribe"
)
RETAIN_DISABLED = _rule(
    "retain-disabled", S, "late subscribers no longer get the last value on subscribe"
)
EXPIRY_SHORTENED = _rule(
    "message-expiry-shortened", S, "messages may expire before slow subscribers receive them"
)
EXPIRY_LENGTHENED = _rule("message-expiry-lengthened", N, "messages live longer; nothing is lost")

# --- document -------------------------------------------------------------------------------
INFO_VERSION_CHANGED = _rule(
    "info-version-changed", N, "informational; the version is not on the wire"
)

ALL_RULES: tuple[Rule, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Rule))
