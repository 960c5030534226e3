"""Checks of an AsyncAPI 2.x / 3.x document, with file + JSON pointer diagnostics.

Structure (required fields, types, unknown keywords, bindings, payload JSON Schemas) is checked by
the official AsyncAPI JSON Schemas (:mod:`mqttwire_codegen.spec_schema`). Written out here are
only the rules no JSON Schema can express: those of @asyncapi/parser's ruleset that matter for
MQTT clients (rule ids as in the parser: ``asyncapi3-channel-parameters``,
``asyncapi3-operation-messages-from-referred-channel``, ``asyncapi2-tags-uniqueness``) and
mqttwire's own (``unsupported-schema-format``, ``channel-parameters-missing``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mqttwire_codegen.defaults import default_diagnostics
from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location
from mqttwire_codegen.loader import Resolver
from mqttwire_codegen.spec_schema import schema_diagnostics

MQTT_PROTOCOLS = frozenset({"mqtt", "mqtts", "secure-mqtt", "mqtt5", "ws+mqtt", "wss+mqtt"})
PARAM_RE = re.compile(r"\{([^{}]*)\}")
_SCHEMA_FORMAT_OK = ("application/vnd.aai.asyncapi", "application/schema+json")


def major_version(doc: Any) -> int:
    version = doc.get("asyncapi") if isinstance(doc, dict) else None
    if isinstance(version, str) and version[:2] in ("2.", "3."):
        return int(version[0])
    return 0


class Validator:
    """Collects diagnostics; never raises for document problems (only the caller does).

    Malformed structure is left to the official schema: these checks skip what they cannot read.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.r = resolver
        self.diags: list[Diagnostic] = []

    # -- helpers ---------------------------------------------------------------------------
    def error(self, loc: Location, rule: str, message: str, hint: str = "") -> None:
        self.diags.append(Diagnostic(loc, rule, message, "error", hint, self.r.line_of(loc)))

    def warn(self, loc: Location, rule: str, message: str, hint: str = "") -> None:
        self.diags.append(Diagnostic(loc, rule, message, "warning", hint, self.r.line_of(loc)))

    def deref(self, node: Any, loc: Location) -> tuple[Any, Location] | None:
        try:
            return self.r.deref(node, loc)
        except ContractError as exc:
            self.diags.extend(exc.diagnostics)
            return None

    def each(self, mapping: Any, loc: Location, fn: Callable[[str, Any, Location], None]) -> None:
        if not isinstance(mapping, dict):
            return
        for key, value in mapping.items():
            if key.startswith("x-"):
                continue
            got = self.deref(value, loc.child(key))
            if got is not None and isinstance(got[0], dict):
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
                hint="this generator reads AsyncAPI 2.x (2.6 recommended) and 3.x documents",
            )
            return self.diags
        self.diags.extend(schema_diagnostics(self.r))
        self.diags.extend(default_diagnostics(self.r, major))
        self.check_tags(doc.get("tags"), root.child("tags"))
        self.each(
            doc.get("servers"),
            root.child("servers"),
            lambda _, server, loc: self.check_tags(server.get("tags"), loc.child("tags")),
        )
        if major == 2:
            self.each(doc.get("channels"), root.child("channels"), self.check_channel_2)
        else:
            self.each(doc.get("channels"), root.child("channels"), self.check_channel_3)
            self.each(doc.get("operations"), root.child("operations"), self.check_operation_3)
        comps = doc.get("components")
        if isinstance(comps, dict):
            self.each(
                comps.get("messages"),
                root.child("components", "messages"),
                lambda _, msg, loc: self.check_message(msg, loc, major),
            )
        unique: dict[tuple[Location, str, str], Diagnostic] = {}
        for d in self.diags:
            unique.setdefault((d.location, d.rule, d.message), d)
        return list(unique.values())

    # -- tags ------------------------------------------------------------------------------
    def check_tags(self, tags: Any, loc: Location) -> None:
        if not isinstance(tags, list):
            return
        seen: set[str] = set()
        for i, tag in enumerate(tags):
            got = self.deref(tag, loc.child(i))
            name = got[0].get("name") if got is not None and isinstance(got[0], dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                self.error(
                    loc.child(i, "name"),
                    "asyncapi2-tags-uniqueness",
                    f"'tags' contains duplicate tag name {name!r}",
                )
            seen.add(name)

    # -- messages --------------------------------------------------------------------------
    def check_message(self, msg: Any, loc: Location, major: int) -> None:
        if not isinstance(msg, dict):
            return
        if major == 2 and isinstance(msg.get("oneOf"), list):
            for i, item in enumerate(msg["oneOf"]):
                got = self.deref(item, loc.child("oneOf", i))
                if got is not None:
                    self.check_message(got[0], got[1], major)
            return
        self.check_tags(msg.get("tags"), loc.child("tags"))
        fmt = msg.get("schemaFormat")
        payload = msg.get("payload")
        if major == 3 and isinstance(payload, dict) and "schemaFormat" in payload:
            fmt = payload.get("schemaFormat")
        if fmt is not None and not (isinstance(fmt, str) and fmt.startswith(_SCHEMA_FORMAT_OK)):
            self.error(
                loc.child("schemaFormat"),
                "unsupported-schema-format",
                f"schemaFormat {fmt!r} is not supported (JSON Schema / AsyncAPI schema only)",
            )

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

    # -- 3.x -------------------------------------------------------------------------------
    def check_channel_3(self, key: str, channel: dict[str, Any], loc: Location) -> None:
        self.check_address_params(
            channel.get("address"),
            channel.get("parameters"),
            loc,
            "asyncapi3-channel-parameters",
            params_required=False,
        )
        self.each(
            channel.get("messages"),
            loc.child("messages"),
            lambda _, msg, mloc: self.check_message(msg, mloc, 3),
        )
        self.check_tags(channel.get("tags"), loc.child("tags"))

    def check_operation_3(self, key: str, op: dict[str, Any], loc: Location) -> None:
        self.check_tags(op.get("tags"), loc.child("tags"))
        chan_ref = op.get("channel")
        if not isinstance(chan_ref, dict) or "$ref" not in chan_ref:
            return  # the official schema requires a Reference Object here
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
        if not isinstance(messages, list):
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
                continue  # the official schema requires Reference Objects here
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
    def check_channel_2(self, address: str, channel: dict[str, Any], loc: Location) -> None:
        self.check_address_params(
            address,
            channel.get("parameters"),
            loc,
            "asyncapi2-channel-parameters",
            params_required=False,
        )
        for verb in ("publish", "subscribe"):
            got = self.deref(channel.get(verb), loc.child(verb)) if verb in channel else None
            if got is None or not isinstance(got[0], dict):
                continue
            op, oloc = got
            self.check_tags(op.get("tags"), oloc.child("tags"))
            if "message" in op:
                got_msg = self.deref(op["message"], oloc.child("message"))
                if got_msg is not None:
                    self.check_message(got_msg[0], got_msg[1], 2)


def validate_document(resolver: Resolver) -> list[Diagnostic]:
    """All diagnostics (errors and warnings) for the loaded document."""
    return Validator(resolver).run()
