"""Structural checks of an AsyncAPI 2.x / 3.0 document, with file + JSON pointer diagnostics.

This is not a JSON Schema validator: it checks what the generator relies on and the rules the
official parser enforces that matter for MQTT clients. Rule ids follow @asyncapi/parser where
one exists (``asyncapi3-channel-parameters``, ``asyncapi3-operation-messages-from-referred-channel``,
``asyncapi2-tags-uniqueness``...).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location
from mqttwire_codegen.loader import Resolver

JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
MQTT_PROTOCOLS = frozenset({"mqtt", "mqtts", "secure-mqtt", "mqtt5", "ws+mqtt", "wss+mqtt"})
PARAM_RE = re.compile(r"\{([^{}]*)\}")
_MESSAGE_FIELDS_2X = frozenset(
    {
        "headers", "payload", "correlationId", "schemaFormat", "contentType", "name", "title",
        "summary", "description", "tags", "externalDocs", "bindings", "examples", "traits",
        "messageId", "deprecated", "$ref",
    }
)  # fmt: skip
_CHANNEL_KEYS_3 = frozenset(
    {
        "address", "messages", "title", "summary", "description", "servers", "parameters",
        "tags", "externalDocs", "bindings", "$ref",
    }
)  # fmt: skip
_OPERATION_KEYS_3 = frozenset(
    {
        "action", "channel", "title", "summary", "description", "security", "tags",
        "externalDocs", "bindings", "traits", "messages", "reply", "$ref",
    }
)  # fmt: skip
_CHANNEL_KEYS_2 = frozenset(
    {"$ref", "description", "servers", "subscribe", "publish", "parameters", "bindings"}
)
_SCHEMA_FORMAT_OK = ("application/vnd.aai.asyncapi", "application/schema+json")
_SCHEMA_SUBSCHEMA_MAPS = (
    "properties",
    "patternProperties",
    "definitions",
    "$defs",
    "dependentSchemas",
)
_SCHEMA_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_SUBSCHEMAS = (
    "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
    "additionalItems", "unevaluatedProperties", "unevaluatedItems",
)  # fmt: skip


def major_version(doc: Any) -> int:
    version = doc.get("asyncapi") if isinstance(doc, dict) else None
    if isinstance(version, str) and version[:2] in ("2.", "3."):
        return int(version[0])
    return 0


class Validator:
    """Collects diagnostics; never raises for document problems (only the caller does)."""

    def __init__(self, resolver: Resolver) -> None:
        self.r = resolver
        self.diags: list[Diagnostic] = []
        self._schemas_seen: set[Location] = set()

    # -- helpers ---------------------------------------------------------------------------
    def error(self, loc: Location, rule: str, message: str, hint: str = "") -> None:
        self.diags.append(Diagnostic(loc, rule, message, "error", hint))

    def warn(self, loc: Location, rule: str, message: str, hint: str = "") -> None:
        self.diags.append(Diagnostic(loc, rule, message, "warning", hint))

    def deref(self, node: Any, loc: Location) -> tuple[Any, Location] | None:
        try:
            return self.r.deref(node, loc)
        except ContractError as exc:
            self.diags.extend(exc.diagnostics)
            return None

    def each(
        self, mapping: Any, loc: Location, fn: Callable[[str, Any, Location], None], what: str
    ) -> None:
        if mapping is None:
            return
        if not isinstance(mapping, dict):
            self.error(loc, "asyncapi-document-resolved", f"{what} must be an object")
            return
        for key, value in mapping.items():
            if key.startswith("x-"):
                continue
            got = self.deref(value, loc.child(key))
            if got is not None:
                fn(key, got[0], got[1])

    # -- entry -----------------------------------------------------------------------------
    def run(self) -> list[Diagnostic]:
        doc, root = self.r.root, self.r.root_location
        self.diags.extend(self.r.check_all_refs())
        if not isinstance(doc, dict):
            self.error(root, "asyncapi-document-resolved", "document must be an object")
            return self.diags
        major = major_version(doc)
        if major == 0:
            self.error(
                root.child("asyncapi"),
                "asyncapi-version",
                f"unsupported or missing 'asyncapi' version {doc.get('asyncapi')!r}",
                hint="this generator reads AsyncAPI 2.x (2.6 recommended) and 3.0 documents",
            )
            return self.diags
        self.check_info(doc.get("info"), root.child("info"))
        self.check_tags(doc.get("tags"), root.child("tags"))
        self.each(doc.get("servers"), root.child("servers"), self.check_server, "servers")
        if major == 2:
            if "channels" not in doc:
                self.error(
                    root, "asyncapi-document-resolved", "missing required property 'channels'"
                )
            self.each(doc.get("channels"), root.child("channels"), self.check_channel_2, "channels")
        else:
            self.each(doc.get("channels"), root.child("channels"), self.check_channel_3, "channels")
            self.each(
                doc.get("operations"),
                root.child("operations"),
                self.check_operation_3,
                "operations",
            )
        comps = doc.get("components")
        if isinstance(comps, dict):
            croot = root.child("components")
            self.each(comps.get("schemas"), croot.child("schemas"), self._schema_entry, "schemas")
            self.each(
                comps.get("messages"),
                croot.child("messages"),
                self._message_entry(major),
                "messages",
            )
        unique: dict[tuple[Location, str, str], Diagnostic] = {}
        for d in self.diags:
            unique.setdefault((d.location, d.rule, d.message), d)
        return list(unique.values())

    # -- info, tags, servers ---------------------------------------------------------------
    def check_info(self, info: Any, loc: Location) -> None:
        if not isinstance(info, dict):
            self.error(loc, "asyncapi-document-resolved", "missing required object 'info'")
            return
        for key in ("title", "version"):
            if not isinstance(info.get(key), str) or not info.get(key):
                self.error(
                    loc.child(key) if key in info else loc,
                    "asyncapi-document-resolved",
                    f"'info' must have a string property '{key}'",
                )

    def check_tags(self, tags: Any, loc: Location) -> None:
        if tags is None:
            return
        if not isinstance(tags, list):
            self.error(loc, "asyncapi-document-resolved", "'tags' must be an array")
            return
        seen: set[str] = set()
        for i, tag in enumerate(tags):
            got = self.deref(tag, loc.child(i))
            if got is None:
                continue
            tag = got[0]
            name = tag.get("name") if isinstance(tag, dict) else None
            if not isinstance(name, str):
                self.error(
                    loc.child(i), "asyncapi-document-resolved", "a tag must have a string 'name'"
                )
            elif name in seen:
                self.error(
                    loc.child(i, "name"),
                    "asyncapi2-tags-uniqueness",
                    f"'tags' contains duplicate tag name {name!r}",
                )
            else:
                seen.add(name)

    def check_server(self, name: str, server: Any, loc: Location) -> None:
        if not isinstance(server, dict):
            self.error(loc, "asyncapi-document-resolved", "a server must be an object")
            return
        if not isinstance(server.get("protocol"), str):
            self.error(loc, "asyncapi-document-resolved", "a server must have a string 'protocol'")
        self.check_tags(server.get("tags"), loc.child("tags"))
        mqtt = self.mqtt_binding(server.get("bindings"), loc.child("bindings"))
        if mqtt is not None:
            node, bloc = mqtt
            self._check_int(node, bloc, "keepAlive", minimum=0)
            self._check_int(node, bloc, "sessionExpiryInterval", minimum=0)
            self._check_bool(node, bloc, "cleanSession")
            will = node.get("lastWill")
            if isinstance(will, dict):
                self._check_qos(will, bloc.child("lastWill"))
                self._check_bool(will, bloc.child("lastWill"), "retain")

    # -- bindings --------------------------------------------------------------------------
    def mqtt_binding(self, bindings: Any, loc: Location) -> tuple[dict[str, Any], Location] | None:
        if bindings is None:
            return None
        got = self.deref(bindings, loc)
        if got is None or not isinstance(got[0], dict) or "mqtt" not in got[0]:
            return None
        inner = self.deref(got[0]["mqtt"], got[1].child("mqtt"))
        if inner is None:
            return None
        if not isinstance(inner[0], dict):
            self.error(inner[1], "mqtt-binding", "the mqtt binding must be an object")
            return None
        version = inner[0].get("bindingVersion")
        if version is not None and str(version) not in ("0.1.0", "0.2.0", "latest"):
            self.warn(
                inner[1].child("bindingVersion"),
                "mqtt-binding-version",
                f"unknown mqtt bindingVersion {version!r}",
            )
        return inner[0], inner[1]

    def _check_qos(self, node: dict[str, Any], loc: Location) -> None:
        if "qos" in node:
            qos = node["qos"]
            if isinstance(qos, bool) or qos not in (0, 1, 2):
                self.error(
                    loc.child("qos"), "mqtt-binding-qos", f"qos must be 0, 1 or 2, got {qos!r}"
                )

    def _check_bool(self, node: dict[str, Any], loc: Location, key: str) -> None:
        if key in node and not isinstance(node[key], bool):
            self.error(
                loc.child(key),
                f"mqtt-binding-{key.lower()}",
                f"{key} must be a boolean, got {node[key]!r}",
            )

    def _check_int(self, node: dict[str, Any], loc: Location, key: str, *, minimum: int) -> None:
        value = node.get(key)
        if key in node and isinstance(value, dict):
            return  # 0.2.0 allows a schema here
        if key in node and (
            isinstance(value, bool) or not isinstance(value, int) or value < minimum
        ):
            self.error(
                loc.child(key),
                "mqtt-binding",
                f"{key} must be an integer >= {minimum}, got {value!r}",
            )

    def check_operation_bindings(self, bindings: Any, loc: Location) -> None:
        mqtt = self.mqtt_binding(bindings, loc)
        if mqtt is not None:
            self._check_qos(*mqtt)
            self._check_bool(mqtt[0], mqtt[1], "retain")
            self._check_int(mqtt[0], mqtt[1], "messageExpiryInterval", minimum=0)

    def check_message_bindings(self, bindings: Any, loc: Location) -> None:
        mqtt = self.mqtt_binding(bindings, loc)
        if mqtt is not None:
            node, bloc = mqtt
            pfi = node.get("payloadFormatIndicator")
            if "payloadFormatIndicator" in node and (isinstance(pfi, bool) or pfi not in (0, 1)):
                self.error(
                    bloc.child("payloadFormatIndicator"),
                    "mqtt-binding",
                    "payloadFormatIndicator must be 0 or 1",
                )

    # -- traits ----------------------------------------------------------------------------
    def traits(self, node: dict[str, Any], loc: Location) -> list[tuple[dict[str, Any], Location]]:
        out: list[tuple[dict[str, Any], Location]] = []
        traits = node.get("traits")
        if traits is None:
            return out
        if not isinstance(traits, list):
            self.error(
                loc.child("traits"), "asyncapi-document-resolved", "'traits' must be an array"
            )
            return out
        for i, trait in enumerate(traits):
            got = self.deref(trait, loc.child("traits", i))
            if got is None:
                continue
            if isinstance(got[0], list):  # 2.0 allowed [trait, {...}] pairs
                got = self.deref(got[0][0], got[1].child(0)) if got[0] else None
                if got is None:
                    continue
            if not isinstance(got[0], dict):
                self.error(got[1], "asyncapi-document-resolved", "a trait must be an object")
                continue
            out.append((got[0], got[1]))
        return out

    # -- messages --------------------------------------------------------------------------
    def _message_entry(self, major: int) -> Callable[[str, Any, Location], None]:
        def check(key: str, msg: Any, loc: Location) -> None:
            self.check_message(msg, loc, major)

        return check

    def check_message(self, msg: Any, loc: Location, major: int) -> None:
        if not isinstance(msg, dict):
            self.error(loc, "asyncapi-document-resolved", "a message must be an object")
            return
        if major == 2 and "oneOf" in msg:
            if not isinstance(msg["oneOf"], list):
                self.error(
                    loc.child("oneOf"), "asyncapi-document-resolved", "'oneOf' must be an array"
                )
                return
            for i, item in enumerate(msg["oneOf"]):
                got = self.deref(item, loc.child("oneOf", i))
                if got is not None:
                    self.check_message(got[0], got[1], major)
            return
        if major == 2:
            unknown = sorted(
                k for k in msg if k not in _MESSAGE_FIELDS_2X and not k.startswith("x-")
            )
            if unknown:
                self.error(
                    loc.child(unknown[0]),
                    "asyncapi-document-resolved",
                    f"message has unexpected property {unknown[0]!r} (a message object or {{oneOf: [...]}} is required)",
                )
        self.check_tags(msg.get("tags"), loc.child("tags"))
        self.check_message_bindings(msg.get("bindings"), loc.child("bindings"))
        for trait, tloc in self.traits(msg, loc):
            self.check_message_bindings(trait.get("bindings"), tloc.child("bindings"))
            if "headers" in trait:
                self.check_schema(trait["headers"], tloc.child("headers"))
        examples = msg.get("examples")
        if examples is not None:
            if not isinstance(examples, list):
                self.error(
                    loc.child("examples"),
                    "asyncapi-document-resolved",
                    "'examples' must be an array",
                )
            else:
                for i, ex in enumerate(examples):
                    if not isinstance(ex, dict) or not ({"payload", "headers"} & set(ex)):
                        self.error(
                            loc.child("examples", i),
                            "asyncapi2-message-examples"
                            if major == 2
                            else "asyncapi3-message-examples",
                            "a message example must have 'payload' or 'headers'",
                        )
        fmt = msg.get("schemaFormat")
        payload = msg.get("payload")
        if (
            major == 3
            and isinstance(payload, dict)
            and "schemaFormat" in payload
            and "schema" in payload
        ):
            fmt = payload.get("schemaFormat")
            payload, ploc = payload["schema"], loc.child("payload", "schema")
        else:
            ploc = loc.child("payload")
        if fmt is not None and not (isinstance(fmt, str) and fmt.startswith(_SCHEMA_FORMAT_OK)):
            self.error(
                loc.child("schemaFormat"),
                "unsupported-schema-format",
                f"schemaFormat {fmt!r} is not supported (JSON Schema / AsyncAPI schema only)",
            )
            return
        if "payload" in msg:
            self.check_schema(payload, ploc)
        if "headers" in msg:
            self.check_schema(msg["headers"], loc.child("headers"))

    # -- JSON Schema sanity ----------------------------------------------------------------
    def _schema_entry(self, key: str, schema: Any, loc: Location) -> None:
        self.check_schema(schema, loc)

    def check_schema(self, schema: Any, loc: Location) -> None:
        got = self.deref(schema, loc)
        if got is None:
            return
        schema, loc = got
        if loc in self._schemas_seen:
            return
        self._schemas_seen.add(loc)
        if isinstance(schema, bool):
            return
        if not isinstance(schema, dict):
            self.error(
                loc,
                "schema",
                f"a schema must be an object or a boolean, got {type(schema).__name__}",
            )
            return
        typ = schema.get("type")
        if typ is not None:
            types = typ if isinstance(typ, list) else [typ]
            bad = [t for t in types if not isinstance(t, str) or t not in JSON_TYPES]
            if bad:
                self.error(
                    loc.child("type"),
                    "schema-type",
                    f"'type' must be one of {', '.join(sorted(JSON_TYPES))}; got {bad[0]!r}",
                )
        for key in ("format", "pattern", "title", "description"):
            if key in schema and not isinstance(schema[key], str):
                self.error(loc.child(key), "schema", f"'{key}' must be a string")
        required = schema.get("required")
        if (
            required is not None
            and not isinstance(required, bool)  # OpenAPI-3.0-style booleans are tolerated
            and not (isinstance(required, list) and all(isinstance(x, str) for x in required))
        ):
            self.error(loc.child("required"), "schema", "'required' must be an array of strings")
        if "enum" in schema and not isinstance(schema["enum"], list):
            self.error(loc.child("enum"), "schema", "'enum' must be an array")
        for key in _SCHEMA_SUBSCHEMA_MAPS:
            sub = schema.get(key)
            if sub is None:
                continue
            if not isinstance(sub, dict):
                self.error(loc.child(key), "schema", f"'{key}' must be an object of schemas")
                continue
            for name, value in sub.items():
                self.check_schema(value, loc.child(key, name))
        for key in _SCHEMA_SUBSCHEMA_LISTS:
            sub = schema.get(key)
            if sub is None:
                continue
            if not isinstance(sub, list):
                self.error(loc.child(key), "schema", f"'{key}' must be an array of schemas")
                continue
            for i, value in enumerate(sub):
                self.check_schema(value, loc.child(key, i))
        for key in _SCHEMA_SUBSCHEMAS:
            if key in schema:
                self.check_schema(schema[key], loc.child(key))
        if "items" in schema:
            items = schema["items"]
            if isinstance(items, list):
                for i, value in enumerate(items):
                    self.check_schema(value, loc.child("items", i))
            else:
                self.check_schema(items, loc.child("items"))

    # -- parameters ------------------------------------------------------------------------
    def check_address_params(
        self, address: Any, params: Any, loc: Location, rule: str, *, params_required: bool
    ) -> None:
        if not isinstance(address, str):
            return
        names = PARAM_RE.findall(address)
        if params is None:
            if names and params_required:
                self.error(
                    loc, rule, f"address parameters {names} are not described in 'parameters'"
                )
            elif names:
                self.warn(
                    loc,
                    "channel-parameters-missing",
                    f"address parameters {names} have no 'parameters' object; treated as free strings",
                )
            return
        if not isinstance(params, dict):
            self.error(
                loc.child("parameters"),
                "asyncapi-document-resolved",
                "'parameters' must be an object",
            )
            return
        missing = [n for n in names if n not in params]
        if missing:
            self.error(
                loc.child("parameters"),
                rule,
                f"Not all channel's parameters are described with 'parameters' object. Missed: {', '.join(missing)}.",
                hint=f"declare {missing[0]!r} under parameters or remove it from the address",
            )
        for extra in [p for p in params if p not in names and not p.startswith("x-")]:
            self.error(
                loc.child("parameters", extra),
                rule,
                f"Channel's 'parameters' object has redundant defined {extra!r} parameter.",
                hint=f"remove {extra!r} from parameters or use {{{extra}}} in the address",
            )

    def check_parameter_3(self, name: str, param: Any, loc: Location) -> None:
        if not isinstance(param, dict):
            self.error(loc, "asyncapi-document-resolved", "a parameter must be an object")
            return
        if "schema" in param:
            self.error(
                loc.child("schema"),
                "asyncapi3-parameter-object",
                "Property 'schema' is not expected here (AsyncAPI 3.0 parameters use enum/default/examples)",
                hint="replace `schema: {enum: [...]}` with `enum: [...]` directly on the parameter",
            )
        enum = param.get("enum")
        if enum is not None and not (
            isinstance(enum, list) and all(isinstance(x, str) for x in enum)
        ):
            self.error(
                loc.child("enum"),
                "asyncapi-document-resolved",
                "parameter 'enum' must be an array of strings",
            )
        if "default" in param and not isinstance(param["default"], str):
            self.error(
                loc.child("default"),
                "asyncapi-document-resolved",
                "parameter 'default' must be a string",
            )

    def check_keys(
        self, node: dict[str, Any], loc: Location, allowed: frozenset[str], what: str
    ) -> None:
        """Unknown keywords are errors, as in the official schemas (``adress:`` is a typo,
        not an extension: extensions start with ``x-``)."""
        for key in node:
            if key in allowed or key.startswith("x-"):
                continue
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            self.diags.append(
                Diagnostic(
                    loc.child(key),
                    "asyncapi-document-resolved",
                    f"{what} has an unknown property {key!r}",
                    "error",
                    f"did you mean {close[0]!r}?" if close else "extensions must start with 'x-'",
                    self.r.line_of(loc.child(key)),
                )
            )

    # -- 3.0 -------------------------------------------------------------------------------
    def check_channel_3(self, key: str, channel: Any, loc: Location) -> None:
        if not isinstance(channel, dict):
            self.error(loc, "asyncapi-document-resolved", "a channel must be an object")
            return
        self.check_keys(channel, loc, _CHANNEL_KEYS_3, f"channel {key!r}")
        address = channel.get("address")
        if address is not None and not isinstance(address, str):
            self.error(
                loc.child("address"),
                "asyncapi-document-resolved",
                "'address' must be a string or null",
            )
        self.check_address_params(
            address,
            channel.get("parameters"),
            loc,
            "asyncapi3-channel-parameters",
            params_required=False,
        )
        self.each(
            channel.get("parameters"), loc.child("parameters"), self.check_parameter_3, "parameters"
        )
        self.each(
            channel.get("messages"), loc.child("messages"), self._message_entry(3), "messages"
        )
        self.check_tags(channel.get("tags"), loc.child("tags"))

    def check_operation_3(self, key: str, op: Any, loc: Location) -> None:
        if not isinstance(op, dict):
            self.error(loc, "asyncapi-document-resolved", "an operation must be an object")
            return
        self.check_keys(op, loc, _OPERATION_KEYS_3, f"operation {key!r}")
        action = op.get("action")
        if "action" not in op:
            self.error(
                loc,
                "asyncapi-document-resolved",
                f"operation {key!r} must have required property 'action'",
            )
        elif action not in ("send", "receive"):
            self.error(
                loc.child("action"),
                "asyncapi-document-resolved",
                f"'action' must be 'send' or 'receive', got {action!r}",
                hint="AsyncAPI 2.x 'publish' is 3.0 'receive', 'subscribe' is 'send'",
            )
        self.check_tags(op.get("tags"), loc.child("tags"))
        self.check_operation_bindings(op.get("bindings"), loc.child("bindings"))
        for trait, tloc in self.traits(op, loc):
            self.check_operation_bindings(trait.get("bindings"), tloc.child("bindings"))
        chan_ref = op.get("channel")
        if not isinstance(chan_ref, dict) or "$ref" not in chan_ref:
            self.error(
                loc.child("channel"),
                "asyncapi-document-resolved",
                "operation 'channel' must be a $ref to a channel",
            )
            return
        self.check_op_messages(
            op.get("messages"), chan_ref, loc.child("messages"), loc.child("channel")
        )
        reply = op.get("reply")
        if reply is not None:
            got = self.deref(reply, loc.child("reply"))
            if got is not None and isinstance(got[0], dict):
                rep, rloc = got
                rchan = rep.get("channel")
                if isinstance(rchan, dict) and "$ref" in rchan:
                    self.check_op_messages(
                        rep.get("messages"), rchan, rloc.child("messages"), rloc.child("channel")
                    )

    def check_op_messages(
        self, messages: Any, chan_ref: dict[str, Any], loc: Location, chan_loc: Location
    ) -> None:
        try:
            channel, cloc = self.r.resolve_ref(chan_ref["$ref"], chan_loc.child("$ref"))
            channel, cloc = self.r.deref(channel, cloc)
        except ContractError:
            return  # already reported by check_all_refs
        if messages is None:
            return
        if not isinstance(messages, list):
            self.error(loc, "asyncapi-document-resolved", "operation 'messages' must be an array")
            return
        allowed: set[Location] = set()
        if isinstance(channel, dict) and isinstance(channel.get("messages"), dict):
            allowed = {cloc.child("messages", k) for k in channel["messages"]}
            # a channel message that is itself a $ref is the same message as its target
            for k, v in channel["messages"].items():
                got = self.deref(v, cloc.child("messages", k))
                if got is not None:
                    allowed.add(got[1])
        for i, item in enumerate(messages):
            if not isinstance(item, dict) or "$ref" not in item:
                self.error(
                    loc.child(i), "asyncapi-document-resolved", "operation messages must be $refs"
                )
                continue
            try:
                _, mloc = self.r.resolve_ref(item["$ref"], loc.child(i, "$ref"))
            except ContractError:
                continue
            if mloc not in allowed:
                self.error(
                    loc.child(i),
                    "asyncapi3-operation-messages-from-referred-channel",
                    "Operation message does not belong to the specified channel.",
                    hint=f"reference a message under the channel's 'messages' ({sorted(channel.get('messages') or {})})",
                )

    # -- 2.x -------------------------------------------------------------------------------
    def check_channel_2(self, address: str, channel: Any, loc: Location) -> None:
        if not isinstance(channel, dict):
            self.error(loc, "asyncapi-document-resolved", "a channel item must be an object")
            return
        self.check_keys(channel, loc, _CHANNEL_KEYS_2, f"channel {address!r}")
        self.check_address_params(
            address,
            channel.get("parameters"),
            loc,
            "asyncapi2-channel-parameters",
            params_required=False,
        )
        for verb in ("publish", "subscribe"):
            if verb not in channel:
                continue
            got = self.deref(channel[verb], loc.child(verb))
            if got is None:
                continue
            op, oloc = got
            if not isinstance(op, dict):
                self.error(
                    oloc, "asyncapi-document-resolved", f"'{verb}' must be an operation object"
                )
                continue
            self.check_tags(op.get("tags"), oloc.child("tags"))
            self.check_operation_bindings(op.get("bindings"), oloc.child("bindings"))
            for trait, tloc in self.traits(op, oloc):
                self.check_operation_bindings(trait.get("bindings"), tloc.child("bindings"))
            if "message" in op:
                got_msg = self.deref(op["message"], oloc.child("message"))
                if got_msg is not None:
                    self.check_message(got_msg[0], got_msg[1], 2)


def validate_document(resolver: Resolver) -> list[Diagnostic]:
    """All diagnostics (errors and warnings) for the loaded document."""
    return Validator(resolver).run()
