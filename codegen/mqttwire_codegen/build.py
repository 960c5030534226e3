"""The document in the 3.0 shape (:mod:`~mqttwire_codegen.adapter`, already validated) -> the IR."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mqttwire_codegen.adapter import (
    SourceChannel,
    SourceDocument,
    SourceMessage,
    SourceOperation,
    SourceReply,
    read_document,
)
from mqttwire_codegen.channel_names import check_names, method_names
from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location
from mqttwire_codegen.ir import (
    Action,
    Channel,
    Contract,
    DeliveryPolicy,
    Message,
    Operation,
    Parameter,
    Reply,
    Server,
    TopicTemplate,
)
from mqttwire_codegen.loader import Resolver
from mqttwire_codegen.naming import (
    class_name_from,
    client_class_name,
    const_name,
    is_identifier,
    safe_identifier,
    snake_case,
)
from mqttwire_codegen.options import read_options
from mqttwire_codegen.protocol import mqtt_servers
from mqttwire_codegen.schemas import SchemaBundle
from mqttwire_codegen.validate import PARAM_RE

RESERVED_KWARGS = frozenset(
    {
        "self",
        "payload",
        "handler",
        "correlation_id",
        "event_type",
        "timeout",
        "qos",
        "retain",
        "share_group",
    }
)
_SHARE_GROUP_FORBIDDEN = ("/", "+", "#", "\x00")


def reply_problem(request: Channel, reply: Channel, correlation: str) -> str | None:
    """Why no typed request method can be generated for this reply, or ``None`` if it can."""
    for channel in (request, reply):
        if channel.topic.address is None:
            return f"channel {channel.id!r} has no address (given at runtime)"
    if request.topic.has_wildcards:
        return f"request channel {request.id!r} has a wildcard address"
    if correlation == "envelope-id":
        if not (request.envelope and reply.envelope):
            return "envelope-id correlation needs enveloped request and reply channels (x-envelope)"
        return None
    if correlation.startswith(("$message.payload#/", "$message.header#/")):
        return None
    if correlation == "correlation-data":
        return None
    return (
        f"correlation {correlation!r} is not supported (use envelope-id, "
        "$message.payload#/<field> or $message.header#/<name>)"
    )


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        return (value,)
    return ()


@dataclass
class _ChannelDraft:
    source: SourceChannel
    envelope: bool
    messages: list[Message] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # per source message: its key in ``messages``
    ops: list[Operation] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.source.id

    @property
    def raw(self) -> dict[str, Any]:
        return self.source.node

    @property
    def loc(self) -> Location:
        return self.source.at


class Builder:
    def __init__(self, resolver: Resolver, *, client_name: str | None = None) -> None:
        self.r = resolver
        self.source: SourceDocument = read_document(resolver)
        self.doc: dict[str, Any] = self.source.root
        self.root = resolver.root_location
        self.client_name_override = client_name
        options, self.diags = read_options(self.doc, self.root)
        self.enums = options.enums
        self.whole_system = options.whole_system
        self.bundle = SchemaBundle(resolver, named_enums=self.enums == "str-enum")
        self.root_envelope = bool(self.doc.get("x-envelope", False))
        self._message_cache: dict[Location, Message] = {}
        self.params: dict[str, tuple[Parameter, ...]] = {}

    # -- generic ---------------------------------------------------------------------------
    def deref(self, node: Any, loc: Location) -> tuple[Any, Location]:
        return self.r.deref(node, loc)

    def fail(self, loc: Location, rule: str, message: str, hint: str = "") -> None:
        self.diags.append(Diagnostic(loc, rule, message, "error", hint))

    def mqtt_binding(self, node: Mapping[str, Any], loc: Location) -> dict[str, Any]:
        bindings = node.get("bindings")
        if bindings is None:
            return {}
        b, bloc = self.deref(bindings, loc.child("bindings"))
        if not isinstance(b, dict) or "mqtt" not in b:
            return {}
        m, _ = self.deref(b["mqtt"], bloc.child("mqtt"))
        return dict(m) if isinstance(m, dict) else {}

    def resolved_bindings(self, node: Mapping[str, Any], loc: Location) -> dict[str, Any]:
        bindings = node.get("bindings")
        if bindings is None:
            return {}
        b, bloc = self.deref(bindings, loc.child("bindings"))
        if not isinstance(b, dict):
            return {}
        return {k: self.deref(v, bloc.child(k))[0] for k, v in sorted(b.items())}

    # -- protocol --------------------------------------------------------------------------
    def servers(self) -> list[Server]:
        return [
            Server(
                name=s.name,
                host=s.host,
                protocol=s.protocol,
                protocol_version=s.protocol_version,
                bindings=self.resolved_bindings(s.node, s.loc),
            )
            for s in self.source.servers
        ]

    def check_protocol(self, servers: list[Server]) -> set[str]:
        found, diags = mqtt_servers(self.doc, self.root, servers)
        self.diags += diags
        return found

    # -- parameters ------------------------------------------------------------------------
    def parameters(self, channel: SourceChannel, address: str) -> tuple[Parameter, ...]:
        names = list(dict.fromkeys(PARAM_RE.findall(address)))
        params: list[Parameter] = []
        declared = {p.name: p for p in channel.parameters}
        loc = channel.loc
        for name in names:
            source = declared.get(name)
            p = source.node if source else {}
            ploc = source.loc if source else loc.child("parameters", name)
            enum = p.get("enum")
            default = p.get("default")
            override = p.get("x-python-name")
            py = override if isinstance(override, str) else safe_identifier(snake_case(name))
            if not is_identifier(py) or py in RESERVED_KWARGS:
                self.fail(
                    ploc,
                    "name-collision",
                    f"topic parameter {name!r} maps to the Python name {py!r}, which is reserved or not an identifier",
                    hint="add `x-python-name: <other_name>` to the parameter",
                )
            params.append(
                Parameter(
                    name=name,
                    py_name=py,
                    description=p.get("description")
                    if isinstance(p.get("description"), str)
                    else None,
                    enum=tuple(str(v) for v in enum) if isinstance(enum, list) else None,
                    default=str(default) if default is not None else None,
                    examples=_strs(p.get("examples")),
                    location=ploc,
                    pattern=p["pattern"] if isinstance(p.get("pattern"), str) else None,
                )
            )
        seen: dict[str, Parameter] = {}
        for prm in params:
            if prm.py_name in seen:
                self.fail(
                    prm.location or loc,
                    "name-collision",
                    f"topic parameters {seen[prm.py_name].name!r} and {prm.name!r} both map to {prm.py_name!r}",
                    hint="add `x-python-name` to one of them",
                )
            seen[prm.py_name] = prm
        return tuple(params)

    # -- messages --------------------------------------------------------------------------
    def message(self, source: SourceMessage, envelope_default: bool) -> Message:
        """An untitled inline payload is named by the message's own name when it has one, else
        by ``source.context`` (operationId, channel id) when that name is taken."""
        if not source.keyed and source.loc in self._message_cache:
            return self._message_cache[source.loc]
        m, mloc, key, named = source.node, source.loc, source.key, source.named
        name = str(m.get("name") or key)
        payload, ploc = source.payload, source.payload_loc
        context = source.context
        override = m.get("x-python-name")
        if isinstance(override, str):
            candidates = [override]
        else:
            title = m.get("title")
            own = [class_name_from(name)] if named else []
            own += [class_name_from(title)] if isinstance(title, str) and not named else []
            candidates = [
                *own,
                *(class_name_from(c) + ("" if named else "Message") for c in context),
            ] or [class_name_from(name)]
        class_name = self.bundle.add_payload(payload, ploc, candidates)
        headers = m.get("headers")
        headers_schema = (
            self.deref(headers, mloc.child("headers"))[0] if headers is not None else None
        )
        headers_class = None
        if isinstance(headers_schema, dict) and isinstance(headers_schema.get("properties"), dict):
            headers_class = self.bundle.add_payload(
                headers, mloc.child("headers"), [f"{class_name}Headers"]
            )
        corr = m.get("correlationId")
        correlation = self.deref(corr, mloc.child("correlationId"))[0] if corr is not None else None
        envelope = bool(m["x-envelope"]) if "x-envelope" in m else envelope_default
        msg = Message(
            key=key,
            name=name,
            class_name=class_name,
            payload_schema=self.bundle.defs.get(class_name, {}),
            title=m.get("title"),
            summary=m.get("summary"),
            description=m.get("description"),
            content_type=m.get("contentType") or self.doc.get("defaultContentType"),
            headers_schema=headers_schema if isinstance(headers_schema, dict) else None,
            correlation_id=correlation if isinstance(correlation, dict) else None,
            bindings=self.resolved_bindings(m, mloc),
            envelope=envelope,
            payload_location=ploc,
            location=source.at,
            headers_class=headers_class,
        )
        if not source.keyed:
            self._message_cache[source.loc] = msg
        return msg

    # -- shared subscriptions --------------------------------------------------------------
    def share_group(self, node: Mapping[str, Any], loc: Location) -> str | None:
        """``x-share-group`` of an operation or channel: subscriptions become
        ``$share/<group>/<filter>`` (workers splitting a stream)."""
        if "x-share-group" not in node:
            return None
        group = node["x-share-group"]
        if (
            not isinstance(group, str)
            or not group
            or any(c in group for c in _SHARE_GROUP_FORBIDDEN)
        ):
            self.fail(
                loc.child("x-share-group"),
                "invalid-share-group",
                f"x-share-group must be a non-empty string without / + # or NUL, got {group!r}",
                hint="e.g. `x-share-group: workers`",
            )
            return None
        return group

    # -- delivery --------------------------------------------------------------------------
    def delivery(self, op: Mapping[str, Any], loc: Location) -> DeliveryPolicy:
        mqtt = self.mqtt_binding(op, loc)
        qos = mqtt.get("qos", 0)
        expiry = mqtt.get("messageExpiryInterval")
        return DeliveryPolicy(
            qos=qos if isinstance(qos, int) else 0,
            retain=bool(mqtt.get("retain", False)),
            message_expiry_interval=expiry
            if isinstance(expiry, int) and not isinstance(expiry, bool)
            else None,
            declared_at=loc.child("bindings", "mqtt") if mqtt else None,
        )

    # -- channel servers -------------------------------------------------------------------
    @staticmethod
    def on_mqtt(channel: SourceChannel, mqtt_names: set[str], all_servers: set[str]) -> bool:
        if channel.servers is None or not all_servers or not mqtt_names:
            return True
        return bool(set(channel.servers) & mqtt_names)

    # -- channels and operations -------------------------------------------------------------
    def drafts(
        self, mqtt_names: set[str], all_servers: set[str]
    ) -> tuple[dict[str, _ChannelDraft], list[Operation]]:
        drafts: dict[str, _ChannelDraft] = {}
        for source in self.source.channels:
            if not self.on_mqtt(source, mqtt_names, all_servers):
                continue
            if source.address is None:
                self.diags.append(
                    Diagnostic(
                        source.at,
                        "channel-without-address",
                        f"channel {source.id!r} has no 'address': in AsyncAPI 3 its topic is "
                        "unknown until runtime, so its generated methods take the topic at "
                        "runtime (publish: topic=, subscribe: topic_filter=; no on_ decorator)",
                        "info",
                        hint="give the channel an `address` (with {parameters} for the parts "
                        "that vary) if the topic is known upfront",
                    )
                )
            ch = source.node
            envelope = bool(ch["x-envelope"]) if "x-envelope" in ch else self.root_envelope
            draft = _ChannelDraft(source, envelope)
            self.params[source.id] = self.parameters(source, source.address or "")
            for item in source.messages:
                msg = self.message(item, envelope)
                same_key = [m for m in draft.messages if m.key == msg.key]
                if same_key and same_key[0].class_name != msg.class_name:
                    # unnamed 2.x messages share the key "message": keep each of them
                    msg = replace(msg, key=f"{msg.key}{len(draft.messages) + 1}")
                    same_key = []
                if not same_key:
                    draft.messages.append(msg)
                draft.keys.append(msg.key)
            drafts[source.id] = draft
        ops: list[Operation] = []
        for op in self.source.operations:
            if op.channel_id is None or op.channel_id not in drafts:
                continue
            draft = drafts[op.channel_id]
            keys = self.message_keys(op.messages, draft)
            reply = self.reply(op, draft, keys, drafts) if op.reply else None
            action: Action = "send" if op.action == "send" else "receive"
            operation = Operation(
                id=op.id,
                action=action,
                channel_id=op.channel_id,
                message_keys=keys,
                delivery=self.delivery(op.node, op.loc),
                reply=reply,
                reply_stream_channel_id=op.reply_stream,
                share_group=self.share_group(op.node, op.loc),
                summary=op.node.get("summary"),
                description=op.node.get("description"),
                bindings=self.resolved_bindings(op.node, op.loc),
                location=op.at,
                declared_id=op.declared_id,
            )
            draft.ops.append(operation)
            ops.append(operation)
        return drafts, ops

    @staticmethod
    def message_keys(indices: tuple[int, ...] | None, draft: _ChannelDraft) -> tuple[str, ...]:
        if indices is None:
            return tuple(m.key for m in draft.messages)
        return tuple(draft.keys[i] for i in indices)

    def reply(
        self,
        op: SourceOperation,
        request: _ChannelDraft,
        request_keys: tuple[str, ...],
        drafts: Mapping[str, _ChannelDraft],
    ) -> Reply | None:
        rep: SourceReply | None = op.reply
        if rep is None:
            return None
        if rep.channel_id is None or rep.channel_id not in drafts:
            what = (
                "names no channel"
                if rep.channel_id is None
                else f"names channel {rep.channel_id!r}, which is not an MQTT channel here"
            )
            self.diags.append(
                Diagnostic(
                    rep.loc,
                    "reply-without-channel",
                    f"operation {op.id!r}: its reply {what}, so what the reply carries is "
                    f"unknown; no request method is generated for it (it still publishes)",
                    "warning",
                    hint="add `channel: {$ref: '#/channels/<reply channel>'}` to the reply; "
                    "keep `address` for a reply topic given at runtime "
                    "(e.g. $message.header#/replyTo)",
                )
            )
            return None
        draft = drafts[rep.channel_id]
        keys = self.message_keys(rep.messages, draft)
        messages = tuple(m for m in draft.messages if m.key in keys)
        corr = rep.node.get("x-correlation", op.node.get("x-correlation"))
        if corr is None and None in (request.source.address, draft.source.address):
            corr = "correlation-data"  # no request_ method (request-not-generated says why)
        if corr is None:
            requests = [m for m in request.messages if m.key in request_keys]
            corr = self._standard_correlation(
                [*requests, *(messages or draft.messages)], request, draft, rep.loc
            )
        return Reply(
            channel_id=rep.channel_id,
            messages=messages,
            correlation=str(corr),
            address=rep.address_location,
            location=rep.loc,
        )

    def _standard_correlation(
        self,
        messages: list[Message],
        request: _ChannelDraft,
        reply: _ChannelDraft,
        loc: Location,
    ) -> str:
        """AsyncAPI's own ``correlationId`` of the request or reply messages; without one, the
        envelope id on enveloped channels, else MQTT 5 correlation data (with a warning)."""
        for message in messages:
            location = (message.correlation_id or {}).get("location")
            if isinstance(location, str):
                return location
        if request.envelope and reply.envelope:
            return "envelope-id"
        self.diags.append(
            Diagnostic(
                loc,
                "correlation-undeclared",
                "no correlationId on the request or reply messages: request_/serve_ correlate "
                "with MQTT 5 correlation data, so they need an MQTT 5 connection",
                "warning",
                hint="declare `correlationId: {location: '$message.payload#/<field>'}` on the "
                "messages to work on MQTT 3.1.1 too",
            )
        )
        return "correlation-data"

    # -- assemble --------------------------------------------------------------------------
    def build(self) -> Contract:
        servers = self.servers()
        mqtt_names = self.check_protocol(servers)
        all_servers = {s.name for s in servers}
        drafts, ops = self.drafts(mqtt_names, all_servers)
        channels = [self.channel(d) for d in drafts.values()]
        self.diags += check_names(channels, self.root)
        channels, renamed = method_names(channels, self.root)
        self.diags += renamed
        by_id = {ch.id: ch for ch in channels}
        for index, op in enumerate(ops):
            if op.reply is None or op.channel_id not in by_id or op.reply.channel_id not in by_id:
                continue
            problem = reply_problem(
                by_id[op.channel_id], by_id[op.reply.channel_id], op.reply.correlation
            )
            if problem:
                ops[index] = replace(op, reply=replace(op.reply, problem=problem))
                self.diags.append(
                    Diagnostic(
                        op.reply.location or self.root,
                        "request-not-generated",
                        f"operation {op.id!r}: no request_/serve_ methods: {problem}",
                        "warning",
                    )
                )
            elif by_id[op.reply.channel_id].publish_policy.declared_at is None:
                self.diags.append(
                    Diagnostic(
                        op.reply.location or self.root,
                        "reply-qos-undeclared",
                        f"operation {op.id!r}: no MQTT binding gives the QoS of replies on "
                        f"{op.reply.channel_id!r}: serve_ publishes them with QoS 0 (a lost "
                        "reply is a request timeout)",
                        "warning",
                        hint="add an operation that sends on the reply channel with "
                        "`bindings: {mqtt: {qos: 1}}`",
                    )
                )
        info = self.doc.get("info") or {}
        title = str(info.get("title", "Api"))
        client_name = self.client_name_override or client_class_name(title)
        if not is_identifier(client_name):
            self.fail(
                self.root.child("info", "title"),
                "name-collision",
                f"client class name {client_name!r} is not a Python identifier",
                hint="pass --client-name",
            )
        errors = [d for d in self.diags if d.severity == "error"]
        if errors:
            raise ContractError(errors)
        sha = hashlib.sha256()
        for path, data in sorted(self.r.files.items()):
            sha.update(
                str(
                    path.relative_to(self.r.root_file.parent)
                    if path.is_relative_to(self.r.root_file.parent)
                    else path.name
                ).encode()
            )
            sha.update(b"\0")
            sha.update(data)
        return Contract(
            asyncapi_version=str(self.doc.get("asyncapi")),
            title=title,
            version=str(info.get("version", "")),
            client_name=client_name,
            channels=tuple(channels),
            operations=tuple(ops),
            servers=tuple(servers),
            schema_defs=dict(self.bundle.defs),
            source_file=self.root,
            sha256=sha.hexdigest()
            if len(self.r.files) > 1
            else hashlib.sha256(self.r.files[self.r.root_file]).hexdigest(),
            description=info.get("description")
            if isinstance(info.get("description"), str)
            else None,
            default_content_type=self.doc.get("defaultContentType"),
            whole_system=self.whole_system,
            enums=self.enums,
        )

    def channel(self, d: _ChannelDraft) -> Channel:
        sends = [o for o in d.ops if o.action == "send"]
        receives = [o for o in d.ops if o.action == "receive"]
        publish = next((o.delivery for o in sends if o.delivery.declared_at), None) or next(
            (o.delivery for o in d.ops if o.delivery.declared_at), DeliveryPolicy()
        )
        publish = self._message_level_delivery(d, publish)
        subscribe = next((o.delivery for o in receives if o.delivery.declared_at), None) or publish
        share_group = next(
            (o.share_group for o in receives if o.share_group is not None),
            self.share_group(d.raw, d.loc),
        )
        override = d.raw.get("x-python-name")
        py = override if isinstance(override, str) else snake_case(d.id)
        publish_method = next(
            (safe_identifier(snake_case(o.id)) for o in sends if o.declared_id), ""
        )
        subscribe_method = next(
            (safe_identifier(snake_case(o.id)) for o in receives if o.declared_id), ""
        )
        by_class: dict[str, Message] = {}
        for m in d.messages:
            first = by_class.get(m.class_name)
            if first is not None and first.name != m.name:
                self.diags.append(
                    Diagnostic(
                        m.location or d.loc,
                        "ambiguous-event-type",
                        f"channel {d.id!r}: messages {first.name!r} and {m.name!r} share the model "
                        f"{m.class_name}; publish_{d.raw.get('x-python-name') or snake_case(d.id)}() "
                        f"defaults to {first.name!r} and takes event_type= to choose",
                        "warning",
                    )
                )
            by_class.setdefault(m.class_name, m)
        return Channel(
            id=d.id,
            py_name=py,
            const_name=const_name(py),
            topic=TopicTemplate(d.source.address, self.params[d.id]),
            messages=tuple(d.messages),
            envelope=d.envelope,
            publish_policy=publish,
            subscribe_policy=subscribe,
            share_group=share_group,
            description=d.raw.get("description")
            if isinstance(d.raw.get("description"), str)
            else None,
            bindings=self.resolved_bindings(d.raw, d.loc),
            publishers=_strs(d.raw.get("x-publishers")),
            subscribers=_strs(d.raw.get("x-subscribers")),
            location=d.loc,
            publish_method=publish_method,
            subscribe_method=subscribe_method,
        )

    def _message_level_delivery(self, d: _ChannelDraft, declared: DeliveryPolicy) -> DeliveryPolicy:
        """QoS/retain written in a message's MQTT binding (not where the spec puts them, but
        real documents do it): honoured when no operation declares them, with a warning; every
        value that is not honoured (the operation's binding wins, another message of the
        channel came first, not an MQTT value) is warned about, never dropped silently."""
        chosen: tuple[DeliveryPolicy, str] | None = None
        if declared.declared_at is not None:
            chosen = (declared, "the operation's binding")
        for m in d.messages:
            mqtt = m.bindings.get("mqtt")
            if not isinstance(mqtt, dict) or not ({"qos", "retain"} & mqtt.keys()):
                continue
            qos, retain = mqtt.get("qos", 0), mqtt.get("retain", False)
            loc = (m.location or d.loc).child("bindings", "mqtt")
            if qos not in (0, 1, 2) or not isinstance(retain, bool):
                self.diags.append(
                    Diagnostic(
                        loc,
                        "message-binding-delivery",
                        f"channel {d.id!r}: qos {qos!r} / retain {retain!r} in the message "
                        "binding are not valid MQTT values; ignored",
                        "warning",
                    )
                )
                continue
            if chosen is not None:
                policy, source = chosen
                if (policy.qos, policy.retain) != (qos, retain):
                    self.diags.append(
                        Diagnostic(
                            loc,
                            "message-binding-delivery",
                            f"channel {d.id!r}: qos {qos} and retain {retain} in the binding of "
                            f"message {m.class_name} are ignored: the channel uses qos {policy.qos} "
                            f"and retain {policy.retain} from {source}",
                            "warning",
                            hint="QoS and retain are per channel operation: declare them once, "
                            "in the operation's `bindings.mqtt`",
                        )
                    )
                continue
            self.diags.append(
                Diagnostic(
                    loc,
                    "message-binding-delivery",
                    f"channel {d.id!r}: qos {qos} and retain {retain} come from the message's "
                    "MQTT binding; AsyncAPI puts them on the operation",
                    "warning",
                    hint="move them to the operation's `bindings.mqtt`",
                )
            )
            policy = DeliveryPolicy(qos=qos, retain=retain, declared_at=loc)
            chosen = (policy, f"the binding of message {m.class_name}")
        return chosen[0] if chosen is not None else declared


def build_contract(
    resolver: Resolver, *, client_name: str | None = None
) -> tuple[Contract, list[Diagnostic]]:
    """Build the IR; returns it with the warnings collected on the way."""
    builder = Builder(resolver, client_name=client_name)
    contract = builder.build()
    return contract, [d for d in builder.diags if d.severity != "error"]
