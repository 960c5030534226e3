"""Raw AsyncAPI (2.x or 3.0, already validated) -> the version-neutral IR."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location, NotMQTTError
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
from mqttwire_codegen.schemas import SchemaBundle
from mqttwire_codegen.validate import MQTT_PROTOCOLS, PARAM_RE, major_version

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
# attributes of the generated client's base class (mqttwire.typed.TypedClient)
_CLIENT_API = frozenset(
    {
        "CHANNELS", "client", "codec", "connect", "disconnect", "for_testing", "from_env",
        "mqtt5", "ordered", "requests_in_flight", "response_topic", "run_until_signal",
        "shutdown", "stats", "subscribing", "take_errors", "testing", "wait_subscribed",
    }
)  # fmt: skip
_SHARE_GROUP_FORBIDDEN = ("/", "+", "#", "\x00")


def reply_problem(request: Channel, reply: Channel, correlation: str) -> str | None:
    """Why no typed request method can be generated for this reply, or ``None`` if it can."""
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


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Trait merge: ``over`` wins; nested objects (bindings) are merged recursively."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        return (value,)
    return ()


@dataclass
class _ChannelDraft:
    id: str
    address: str
    raw: dict[str, Any]
    loc: Location
    messages: list[Message] = field(default_factory=list)
    envelope: bool = False
    params: tuple[Parameter, ...] = ()
    ops: list[Operation] = field(default_factory=list)


ENUM_STYLES = ("literal", "str-enum")
ROOT_OPTIONS = ("enums", "whole-system")


class Builder:
    def __init__(self, resolver: Resolver, *, client_name: str | None = None) -> None:
        self.r = resolver
        self.doc: dict[str, Any] = resolver.root
        self.root = resolver.root_location
        self.major = major_version(self.doc)
        self.client_name_override = client_name
        self.diags: list[Diagnostic] = []
        self.options = self.root_options()
        self.enums = self.enum_style()
        self.whole_system = self.whole_system_option()
        self.bundle = SchemaBundle(resolver, named_enums=self.enums == "str-enum")
        self.root_envelope = bool(self.doc.get("x-envelope", False))
        self._message_cache: dict[Location, Message] = {}

    def root_options(self) -> dict[str, Any]:
        """Root ``x-mqttwire`` mapping: ``enums`` and ``whole-system`` (unknown options fail)."""
        options = self.doc.get("x-mqttwire")
        if options is None:
            return {}
        loc = self.root.child("x-mqttwire")
        if not isinstance(options, dict):
            self.fail(loc, "bad-extension", "x-mqttwire must be a mapping")
            return {}
        unknown = sorted(set(options) - set(ROOT_OPTIONS))
        if unknown:
            self.fail(
                loc,
                "bad-extension",
                f"x-mqttwire has unknown options {unknown}",
                f"known: {', '.join(ROOT_OPTIONS)}",
            )
        return options

    def enum_style(self) -> str:
        """``x-mqttwire: {enums: literal | str-enum}`` (default ``literal``)."""
        style = self.options.get("enums", "literal")
        if style not in ENUM_STYLES:
            self.fail(
                self.root.child("x-mqttwire").child("enums"),
                "bad-extension",
                f"x-mqttwire.enums is {style!r}",
                f"use one of {', '.join(ENUM_STYLES)}",
            )
            return "literal"
        return str(style)

    def whole_system_option(self) -> bool:
        """``x-mqttwire: {whole-system: true}``: every channel in both directions."""
        value = self.options.get("whole-system", False)
        if not isinstance(value, bool):
            self.fail(
                self.root.child("x-mqttwire").child("whole-system"),
                "bad-extension",
                f"x-mqttwire.whole-system is {value!r}",
                "use true or false",
            )
            return False
        return value

    # -- generic ---------------------------------------------------------------------------
    def deref(self, node: Any, loc: Location) -> tuple[Any, Location]:
        return self.r.deref(node, loc)

    def fail(self, loc: Location, rule: str, message: str, hint: str = "") -> None:
        self.diags.append(Diagnostic(loc, rule, message, "error", hint))

    def apply_traits(self, node: dict[str, Any], loc: Location) -> dict[str, Any]:
        traits = node.get("traits")
        if not isinstance(traits, list):
            return node
        merged: dict[str, Any] = {}
        for i, trait in enumerate(traits):
            t, _ = self.deref(trait, loc.child("traits", i))
            if isinstance(t, list) and t:
                t, _ = self.deref(t[0], loc.child("traits", i, 0))
            if isinstance(t, dict):
                merged = _merge(merged, t)
        own = {k: v for k, v in node.items() if k != "traits"}
        return _merge(merged, own)

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
        out: list[Server] = []
        servers = self.doc.get("servers")
        if not isinstance(servers, dict):
            return out
        for name, raw in servers.items():
            s, sloc = self.deref(raw, self.root.child("servers", name))
            if not isinstance(s, dict):
                continue
            host = s.get("host") if self.major == 3 else s.get("url")
            if self.major == 3 and isinstance(s.get("pathname"), str):
                host = f"{host}{s['pathname']}"
            out.append(
                Server(
                    name=name,
                    host=str(host or ""),
                    protocol=str(s.get("protocol", "")).lower(),
                    protocol_version=str(s["protocolVersion"]) if "protocolVersion" in s else None,
                    bindings=self.resolved_bindings(s, sloc),
                )
            )
        return out

    def binding_kinds(self) -> set[str]:
        kinds: set[str] = set()
        stack: list[Any] = [self.doc]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                b = node.get("bindings")
                if isinstance(b, dict):
                    kinds.update(k for k in b if not k.startswith("x-") and k != "$ref")
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
        return kinds

    def check_protocol(self, servers: list[Server]) -> set[str]:
        """Names of MQTT servers; raises NotMQTTError for a document about another protocol."""
        mqtt_servers = {s.name for s in servers if s.protocol in MQTT_PROTOCOLS}
        kinds = self.binding_kinds()
        if mqtt_servers or "mqtt" in kinds or "mqtt5" in kinds:
            return mqtt_servers
        protocols = sorted({s.protocol for s in servers} | kinds)
        if protocols:
            raise NotMQTTError(
                [
                    Diagnostic(
                        self.root.child("servers") if servers else self.root,
                        "not-mqtt",
                        f"this AsyncAPI document describes a {', '.join(protocols)} API, not MQTT: "
                        "no server with protocol mqtt/mqtts and no mqtt bindings",
                        hint="mqttwire generates MQTT clients only",
                    )
                ]
            )
        self.diags.append(
            Diagnostic(
                self.root,
                "protocol-unspecified",
                "no servers and no bindings: channels are treated as MQTT topics",
                "warning",
            )
        )
        return mqtt_servers

    # -- parameters ------------------------------------------------------------------------
    def parameters(self, address: str, raw: Any, loc: Location) -> tuple[Parameter, ...]:
        names = list(dict.fromkeys(PARAM_RE.findall(address)))
        params: list[Parameter] = []
        declared: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for name in names:
            ploc = loc.child("parameters", name)
            p: Any = {}
            if name in declared:
                p, ploc = self.deref(declared[name], ploc)
            if not isinstance(p, dict):
                p = {}
            spec = p
            if self.major == 2 and isinstance(p.get("schema"), dict):
                spec, _ = self.deref(p["schema"], ploc.child("schema"))
                spec = spec if isinstance(spec, dict) else {}
            enum = spec.get("enum")
            default = spec.get("default")
            py = (
                p.get("x-python-name")
                if isinstance(p.get("x-python-name"), str)
                else safe_identifier(snake_case(name))
            )
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
                    examples=_strs(p.get("examples", spec.get("examples"))),
                    location=ploc,
                    pattern=spec["pattern"] if isinstance(spec.get("pattern"), str) else None,
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
    def message(
        self,
        raw: Any,
        loc: Location,
        key: str | None,
        envelope_default: bool,
        context: tuple[str, ...] = (),
    ) -> Message:
        """``context``: names (operationId, channel id) that name an untitled inline payload
        when the message's own name is missing or already taken by another schema."""
        ref_loc = loc
        m, mloc = self.deref(raw, loc)
        cache_key = mloc
        if cache_key in self._message_cache and key is None:
            return self._message_cache[cache_key]
        m = self.apply_traits(m, mloc) if isinstance(m, dict) else {}
        named = key is not None
        if key is None:
            key = (
                m.get("messageId")
                or m.get("name")
                or (mloc.pointer.rsplit("/", 1)[-1] if "/messages/" in mloc.pointer else None)
            )
            named = key is not None
            key = key or "message"
        key = str(key)
        name = str(m.get("name") or key)
        payload = m.get("payload")
        ploc = mloc.child("payload")
        if (
            self.major == 3
            and isinstance(payload, dict)
            and "schema" in payload
            and "schemaFormat" in payload
        ):
            payload, ploc = payload["schema"], ploc.child("schema")
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
            location=ref_loc,
            headers_class=headers_class,
        )
        self._message_cache[cache_key] = msg
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
    def on_mqtt(
        self,
        channel: Mapping[str, Any],
        loc: Location,
        mqtt_servers: set[str],
        all_servers: set[str],
    ) -> bool:
        servers = channel.get("servers")
        if not isinstance(servers, list) or not servers or not all_servers:
            return True
        names: set[str] = set()
        for i, s in enumerate(servers):
            if isinstance(s, str):
                names.add(s)
            elif isinstance(s, dict) and "$ref" in s:
                try:
                    _, sloc = self.r.resolve_ref(s["$ref"], loc.child("servers", i, "$ref"))
                except ContractError:
                    continue
                names.add(sloc.pointer.rsplit("/", 1)[-1])
        return bool(names & mqtt_servers) if mqtt_servers else True

    # -- 3.0 -------------------------------------------------------------------------------
    def drafts_3(
        self, mqtt_servers: set[str], all_servers: set[str]
    ) -> tuple[dict[str, _ChannelDraft], list[Operation]]:
        drafts: dict[str, _ChannelDraft] = {}
        loc_to_id: dict[Location, str] = {}
        chans = self.doc.get("channels") or {}
        for cid, raw in chans.items():
            if cid.startswith("x-"):
                continue
            cloc0 = self.root.child("channels", cid)
            ch, cloc = self.deref(raw, cloc0)
            loc_to_id[cloc0] = cid
            loc_to_id[cloc] = cid
            address = ch.get("address")
            if not isinstance(address, str):
                self.diags.append(
                    Diagnostic(
                        cloc0,
                        "channel-without-address",
                        f"channel {cid!r} has no address; skipped",
                        "warning",
                    )
                )
                continue
            if not self.on_mqtt(ch, cloc, mqtt_servers, all_servers):
                continue
            envelope = bool(ch["x-envelope"]) if "x-envelope" in ch else self.root_envelope
            draft = _ChannelDraft(cid, address, ch, cloc0, envelope=envelope)
            draft.params = self.parameters(address, ch.get("parameters"), cloc)
            for mkey, mraw in (ch.get("messages") or {}).items():
                draft.messages.append(
                    self.message(
                        mraw, cloc.child("messages", mkey), mkey, envelope, (f"{cid} {mkey}",)
                    )
                )
            drafts[cid] = draft
        ops: list[Operation] = []
        for oid, raw in (self.doc.get("operations") or {}).items():
            if oid.startswith("x-"):
                continue
            oloc0 = self.root.child("operations", oid)
            op, oloc = self.deref(raw, oloc0)
            op = self.apply_traits(op, oloc)
            cid = self._channel_id(op.get("channel"), oloc.child("channel"), loc_to_id)
            if cid is None or cid not in drafts:
                continue
            draft = drafts[cid]
            keys = self._message_keys(op.get("messages"), oloc.child("messages"), draft)
            reply = self._reply(
                op.get("reply"), oloc.child("reply"), loc_to_id, drafts, op, draft, keys
            )
            stream = op.get("x-reply-stream")
            stream_id = (
                self._channel_id(stream, oloc.child("x-reply-stream"), loc_to_id)
                if isinstance(stream, dict)
                else None
            )
            action: Action = "send" if op.get("action") == "send" else "receive"
            operation = Operation(
                id=oid,
                action=action,
                channel_id=cid,
                message_keys=keys,
                delivery=self.delivery(op, oloc),
                reply=reply,
                reply_stream_channel_id=stream_id,
                share_group=self.share_group(op, oloc),
                summary=op.get("summary"),
                description=op.get("description"),
                bindings=self.resolved_bindings(op, oloc),
                location=oloc0,
            )
            draft.ops.append(operation)
            ops.append(operation)
        return drafts, ops

    def _channel_id(self, ref: Any, loc: Location, loc_to_id: Mapping[Location, str]) -> str | None:
        if not isinstance(ref, dict) or "$ref" not in ref:
            return None
        _, tloc = self.r.resolve_ref(ref["$ref"], loc.child("$ref"))
        if tloc in loc_to_id:
            return loc_to_id[tloc]
        _, dloc = self.deref(ref, loc)
        return loc_to_id.get(dloc)

    def _message_keys(self, refs: Any, loc: Location, draft: _ChannelDraft) -> tuple[str, ...]:
        if not isinstance(refs, list):
            return tuple(m.key for m in draft.messages)
        keys: list[str] = []
        for i, item in enumerate(refs):
            if isinstance(item, dict) and "$ref" in item:
                _, tloc = self.r.resolve_ref(item["$ref"], loc.child(i, "$ref"))
                keys.append(tloc.pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~"))
        return tuple(keys)

    def _reply(
        self,
        raw: Any,
        loc: Location,
        loc_to_id: Mapping[Location, str],
        drafts: Mapping[str, _ChannelDraft],
        op: Mapping[str, Any],
        request: _ChannelDraft,
        request_keys: tuple[str, ...],
    ) -> Reply | None:
        if raw is None:
            return None
        rep, rloc = self.deref(raw, loc)
        if not isinstance(rep, dict):
            return None
        cid = self._channel_id(rep.get("channel"), rloc.child("channel"), loc_to_id)
        if cid is None or cid not in drafts:
            self.diags.append(
                Diagnostic(
                    rloc,
                    "reply-without-channel",
                    "reply has no usable channel (dynamic reply addresses are not supported); request method skipped",
                    "warning",
                )
            )
            return None
        draft = drafts[cid]
        keys = self._message_keys(rep.get("messages"), rloc.child("messages"), draft)
        messages = tuple(m for m in draft.messages if m.key in keys)
        address = rep.get("address")
        addr_loc = None
        if isinstance(address, dict):
            a, _ = self.deref(address, rloc.child("address"))
            addr_loc = a.get("location") if isinstance(a, dict) else None
        corr = rep.get("x-correlation", op.get("x-correlation"))
        if corr is None:
            requests = [m for m in request.messages if m.key in request_keys]
            corr = self._standard_correlation(
                [*requests, *(messages or draft.messages)], request, draft, op, rloc
            )
        return Reply(
            channel_id=cid,
            messages=messages,
            correlation=str(corr),
            address=addr_loc if isinstance(addr_loc, str) else None,
            location=rloc,
        )

    def _standard_correlation(
        self,
        messages: list[Message],
        request: _ChannelDraft,
        reply: _ChannelDraft,
        op: Mapping[str, Any],
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

    # -- 2.x -------------------------------------------------------------------------------
    def drafts_2(
        self, mqtt_servers: set[str], all_servers: set[str]
    ) -> tuple[dict[str, _ChannelDraft], list[Operation]]:
        drafts: dict[str, _ChannelDraft] = {}
        ops: list[Operation] = []
        for address, raw in (self.doc.get("channels") or {}).items():
            if address.startswith("x-"):
                continue
            cloc0 = self.root.child("channels", address)
            ch, cloc = self.deref(raw, cloc0)
            if not self.on_mqtt(ch, cloc, mqtt_servers, all_servers):
                continue
            envelope = bool(ch["x-envelope"]) if "x-envelope" in ch else self.root_envelope
            cid = address.strip("/") or address
            # ``/a/b`` and ``a/b`` are different MQTT topics: the address is kept as written
            draft = _ChannelDraft(cid, address, ch, cloc0, envelope=envelope)
            draft.params = self.parameters(address, ch.get("parameters"), cloc)
            for verb in ("subscribe", "publish"):  # 2.x subscribe = the application sends
                if verb not in ch:
                    continue
                op, oloc = self.deref(ch[verb], cloc.child(verb))
                op = self.apply_traits(op, oloc)
                keys: list[str] = []
                if "message" in op:
                    mraw, mloc = self.deref(op["message"], oloc.child("message"))
                    items: list[tuple[Any, Location]] = (
                        [(x, mloc.child("oneOf", i)) for i, x in enumerate(mraw["oneOf"])]
                        if isinstance(mraw, dict) and isinstance(mraw.get("oneOf"), list)
                        else [(op["message"], oloc.child("message"))]
                    )
                    op_id = op.get("operationId")
                    context = (cid, *([op_id] if isinstance(op_id, str) else []))
                    for item, iloc in items:
                        msg = self.message(item, iloc, None, envelope, context)
                        same_key = [m for m in draft.messages if m.key == msg.key]
                        if same_key and same_key[0].class_name != msg.class_name:
                            # unnamed oneOf items share the key "message": keep each of them
                            msg = replace(msg, key=f"{msg.key}{len(draft.messages) + 1}")
                            same_key = []
                        if not same_key:
                            draft.messages.append(msg)
                        keys.append(msg.key)
                action: Action = "send" if verb == "subscribe" else "receive"
                operation = Operation(
                    id=str(op.get("operationId") or f"{verb}_{snake_case(cid)}"),
                    action=action,
                    channel_id=cid,
                    message_keys=tuple(keys),
                    delivery=self.delivery(op, oloc),
                    share_group=self.share_group(op, oloc) if action == "receive" else None,
                    summary=op.get("summary"),
                    description=op.get("description"),
                    bindings=self.resolved_bindings(op, oloc),
                    location=cloc0.child(verb),
                    declared_id="operationId" in op,
                )
                draft.ops.append(operation)
                ops.append(operation)
            drafts[cid] = draft
        return drafts, ops

    # -- assemble --------------------------------------------------------------------------
    def build(self) -> Contract:
        servers = self.servers()
        mqtt_servers = self.check_protocol(servers)
        all_servers = {s.name for s in servers}
        if self.major == 3:
            drafts, ops = self.drafts_3(mqtt_servers, all_servers)
        else:
            drafts, ops = self.drafts_2(mqtt_servers, all_servers)
        channels = [self.channel(d) for d in drafts.values()]
        self.check_names(channels)
        channels = self.method_names(channels)
        by_id = {ch.id: ch for ch in channels}
        for op in ops:
            if op.reply is None or op.channel_id not in by_id or op.reply.channel_id not in by_id:
                continue
            problem = reply_problem(
                by_id[op.channel_id], by_id[op.reply.channel_id], op.reply.correlation
            )
            if problem:
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
        if publish.declared_at is None:
            publish = self._message_level_delivery(d) or publish
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
            topic=TopicTemplate(d.address, d.params),
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

    def _message_level_delivery(self, d: _ChannelDraft) -> DeliveryPolicy | None:
        """QoS/retain written in a message's MQTT binding (not where the spec puts them, but
        real documents do it): honoured when no operation declares them, with a warning."""
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
            return DeliveryPolicy(qos=qos, retain=retain, declared_at=loc)
        return None

    def method_names(self, channels: list[Channel]) -> list[Channel]:
        """operationIds name the publish/subscribe methods; one that is not an identifier or
        clashes with another generated name or the client's own API keeps the channel-based
        name, with a warning."""
        fixed = {
            f"{prefix}{ch.py_name}"
            for ch in channels
            for prefix in ("on_", "request_", "serve_", "stream_", "clear_")
        }
        taken: dict[str, str] = {}
        out: list[Channel] = []
        for ch in channels:
            names: dict[str, str] = {}
            for attr, default in (
                ("publish_method", f"publish_{ch.py_name}"),
                ("subscribe_method", f"subscribe_{ch.py_name}"),
            ):
                name = getattr(ch, attr) or default
                own = {f"{prefix}{ch.py_name}" for prefix in ("on_", "request_", "serve_")}
                if name in own:
                    name = default  # ``onThermostatSet``: the decorator's own name, no surprise
                if name != default and (
                    not is_identifier(name)
                    or name in fixed
                    or name in taken
                    or name in _CLIENT_API
                    or name.startswith("_")
                ):
                    self.diags.append(
                        Diagnostic(
                            ch.location or self.root,
                            "method-name-fallback",
                            f"channel {ch.id!r}: the operationId would name a method {name!r}, "
                            f"which clashes or is not usable; the method is {default!r}",
                            "warning",
                        )
                    )
                    name = default
                taken[name] = ch.id
                names[attr] = name
            out.append(
                replace(
                    ch,
                    publish_method=names["publish_method"],
                    subscribe_method=names["subscribe_method"],
                )
            )
        return out

    def check_names(self, channels: Iterable[Channel]) -> None:
        seen: dict[str, Channel] = {}
        for ch in channels:
            if not is_identifier(ch.py_name):
                self.fail(
                    ch.location or self.root,
                    "name-collision",
                    f"channel {ch.id!r}: {ch.py_name!r} is not a Python identifier",
                    hint="add `x-python-name` to the channel",
                )
            if ch.py_name in seen:
                other = seen[ch.py_name]
                self.fail(
                    ch.location or self.root,
                    "name-collision",
                    f"channels {other.id!r} and {ch.id!r} both map to the method suffix {ch.py_name!r}",
                    hint=f"add `x-python-name: <unique_name>` to channel {ch.id!r}",
                )
            seen[ch.py_name] = ch


def build_contract(
    resolver: Resolver, *, client_name: str | None = None
) -> tuple[Contract, list[Diagnostic]]:
    """Build the IR; returns it with the warnings collected on the way."""
    builder = Builder(resolver, client_name=client_name)
    contract = builder.build()
    return contract, [d for d in builder.diags if d.severity != "error"]


def precheck_protocol(resolver: Resolver) -> None:
    """Reject documents about another protocol before reporting their other problems."""
    if major_version(resolver.root) == 0:
        return
    builder = Builder(resolver)
    try:
        servers = builder.servers()
    except (ContractError, AttributeError, TypeError):
        return  # malformed: the validator reports it
    if servers:
        builder.check_protocol(servers)
