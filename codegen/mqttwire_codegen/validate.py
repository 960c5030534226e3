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
from typing import Any

from mqttwire_codegen.adapter import (
    Adapter,
    SourceChannel,
    SourceDocument,
    SourceMessage,
    major_version,
)
from mqttwire_codegen.defaults import default_diagnostics
from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location
from mqttwire_codegen.loader import Resolver
from mqttwire_codegen.spec_schema import schema_diagnostics

MQTT_PROTOCOLS = frozenset({"mqtt", "mqtts", "secure-mqtt", "mqtt5", "ws+mqtt", "wss+mqtt"})
PARAM_RE = re.compile(r"\{([^{}]*)\}")
_SCHEMA_FORMAT_OK = ("application/vnd.aai.asyncapi", "application/schema+json")

__all__ = ["MQTT_PROTOCOLS", "PARAM_RE", "major_version", "validate_document"]


class Validator:
    """Collects diagnostics; never raises for document problems (only the caller does).

    Reads the document in the 3.0 shape (:mod:`~mqttwire_codegen.adapter`, a 2.x document
    upgraded, every node at its original file + pointer). Malformed structure is left to the
    official schema: these checks skip what they cannot read.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.r = resolver
        self.diags: list[Diagnostic] = []

    def error(self, loc: Location, rule: str, message: str, hint: str = "") -> None:
        self.diags.append(Diagnostic(loc, rule, message, "error", hint, self.r.line_of(loc)))

    def warn(self, loc: Location, rule: str, message: str, hint: str = "") -> None:
        self.diags.append(Diagnostic(loc, rule, message, "warning", hint, self.r.line_of(loc)))

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
        adapter = Adapter(self.r)
        try:
            source = adapter.read()
            components = adapter.component_messages()
        except (AttributeError, TypeError, ValueError):
            return self.unique()  # malformed beyond reading: the official schema said where
        self.check_tags(doc.get("tags"), root.child("tags"))
        for server in source.servers:
            self.check_tags(server.node.get("tags"), server.loc.child("tags"))
        for channel in source.channels:
            self.check_channel(channel, major)
        self.check_operations(source)
        for message in components:
            self.check_message(message)
        return self.unique()

    def unique(self) -> list[Diagnostic]:
        found: dict[tuple[Location, str, str], Diagnostic] = {}
        for d in self.diags:
            found.setdefault((d.location, d.rule, d.message), d)
        return list(found.values())

    # -- tags ------------------------------------------------------------------------------
    def check_tags(self, tags: Any, loc: Location) -> None:
        if not isinstance(tags, list):
            return
        seen: set[str] = set()
        for i, tag in enumerate(tags):
            try:
                node, _ = self.r.deref(tag, loc.child(i))
            except ContractError:
                continue
            name = node.get("name") if isinstance(node, dict) else None
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
    def check_message(self, message: SourceMessage) -> None:
        m, loc = message.node, message.loc
        self.check_tags(m.get("tags"), loc.child("tags"))
        fmt = m.get("schemaFormat")
        payload = m.get("payload")
        if isinstance(payload, dict) and "schemaFormat" in payload:  # 3.0 multi-format schema
            fmt = payload.get("schemaFormat")
        if fmt is not None and not (isinstance(fmt, str) and fmt.startswith(_SCHEMA_FORMAT_OK)):
            self.error(
                loc.child("schemaFormat"),
                "unsupported-schema-format",
                f"schemaFormat {fmt!r} is not supported (JSON Schema / AsyncAPI schema only)",
            )

    # -- channels --------------------------------------------------------------------------
    def check_channel(self, channel: SourceChannel, major: int) -> None:
        self.check_address_params(channel, f"asyncapi{major}-channel-parameters")
        for message in channel.messages:
            self.check_message(message)
        self.check_tags(channel.node.get("tags"), channel.loc.child("tags"))

    def check_address_params(self, channel: SourceChannel, rule: str) -> None:
        if channel.address is None:
            return
        names = PARAM_RE.findall(channel.address)
        params = channel.node.get("parameters")
        loc = channel.loc
        if params is None:
            if names:
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

    # -- operations ------------------------------------------------------------------------
    def check_operations(self, source: SourceDocument) -> None:
        channels = {c.id: c for c in source.channels}
        for op in source.operations:
            self.check_tags(op.node.get("tags"), op.loc.child("tags"))
            self.check_stray(op.stray, op.loc, channels.get(op.channel_id or ""))
            if op.reply is not None:
                reply = op.reply
                self.check_stray(reply.stray, reply.loc, channels.get(reply.channel_id or ""))

    def check_stray(
        self, stray: tuple[int, ...], loc: Location, channel: SourceChannel | None
    ) -> None:
        keys = sorted(m.key for m in channel.messages) if channel else []
        for i in stray:
            self.error(
                loc.child("messages", i),
                "asyncapi3-operation-messages-from-referred-channel",
                "Operation message does not belong to the specified channel.",
                hint=f"reference a message under the channel's 'messages' ({keys})",
            )


def validate_document(resolver: Resolver) -> list[Diagnostic]:
    """All diagnostics (errors and warnings) for the loaded document."""
    return Validator(resolver).run()
