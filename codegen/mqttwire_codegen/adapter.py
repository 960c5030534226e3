"""An AsyncAPI 2.x or 3.0 document, read once into the 3.0 shape (the one the builder reads).

3.0 is read as written. A 2.x document is upgraded the way the 3.0 release notes describe it:
each ``publish``/``subscribe`` of a channel becomes an operation (2.x ``subscribe`` -- the
application sends -- is 3.0 ``send``), the operation's messages (``oneOf`` items too) become the
channel's messages, a parameter's ``schema`` keywords move onto the parameter, the server
``url`` is the host. Nothing is copied out of context: every node keeps the
:class:`~mqttwire_codegen.diagnostics.Location` it is written at, so diagnostics about the
upgraded document still name the original file and JSON pointer.

Traits are merged here (message and operation traits), ``$ref``s are followed; a node that is
not what the schema says, or a ``$ref`` that does not resolve (both reported by the validator),
is skipped, never guessed: the validator reads malformed documents through this view too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mqttwire_codegen import pointer
from mqttwire_codegen.diagnostics import ContractError, Location
from mqttwire_codegen.loader import Resolver
from mqttwire_codegen.naming import snake_case

Node = dict[str, Any]


def major_version(doc: Any) -> int:
    """2 or 3 for a document this generator reads, else 0."""
    version = doc.get("asyncapi") if isinstance(doc, dict) else None
    if isinstance(version, str) and version[:2] in ("2.", "3."):
        return int(version[0])
    return 0


@dataclass(frozen=True, slots=True)
class SourceServer:
    name: str
    host: str
    protocol: str
    protocol_version: str | None
    node: Node
    loc: Location


@dataclass(frozen=True, slots=True)
class SourceParameter:
    """A channel parameter as 3.0 states it (``enum``, ``default``, ``examples``,
    ``description``, ``location``, plus ``pattern`` and ``x-`` keys)."""

    name: str
    node: Node
    loc: Location


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """A message of a channel, traits merged. ``key`` is its id in the channel (3.0) or, for a
    2.x message, its ``messageId``/``name``/component key (``named``) or ``"message"``."""

    key: str
    named: bool
    keyed: bool  # the key is the channel's own (3.0): the same message may differ per channel
    node: Node
    loc: Location  # where the message's content is written (after ``$ref``)
    at: Location  # where the channel lists it
    payload: Any
    payload_loc: Location
    context: tuple[str, ...]  # names for an untitled payload (channel id, operationId)


@dataclass(frozen=True, slots=True)
class SourceChannel:
    id: str
    address: str | None  # None: unknown, given at runtime (3.0)
    node: Node
    loc: Location  # after ``$ref``
    at: Location  # under ``channels``
    servers: tuple[str, ...] | None  # names of the servers the channel is on (None: all)
    parameters: tuple[SourceParameter, ...]
    messages: tuple[SourceMessage, ...]


@dataclass(frozen=True, slots=True)
class SourceReply:
    channel_id: str | None  # None: no usable channel
    messages: tuple[int, ...] | None  # indices into the reply channel's messages (None: all)
    address_location: str | None  # a runtime expression (``$message.header#/replyTo``)
    node: Node
    loc: Location
    stray: tuple[int, ...] = ()  # positions in ``messages`` of messages not of the channel


@dataclass(frozen=True, slots=True)
class SourceOperation:
    id: str
    declared_id: bool  # False: a 2.x operation without operationId (id synthesized)
    action: str  # "send" | "receive"
    channel_id: str | None
    messages: tuple[int, ...] | None  # indices into the channel's messages (None: all)
    node: Node  # traits merged
    loc: Location  # after ``$ref``
    at: Location  # where the operation is declared
    reply: SourceReply | None
    reply_stream: str | None  # channel id of ``x-reply-stream``
    stray: tuple[int, ...] = ()  # positions in ``messages`` of messages not of the channel


@dataclass(frozen=True, slots=True)
class SourceDocument:
    version: str
    major: int
    root: Node
    loc: Location
    servers: tuple[SourceServer, ...]
    channels: tuple[SourceChannel, ...]
    operations: tuple[SourceOperation, ...]


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> Node:
    """Trait merge: ``over`` wins; nested objects (bindings) are merged recursively."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class Adapter:
    def __init__(self, resolver: Resolver) -> None:
        self.r = resolver
        self.doc: Node = resolver.root if isinstance(resolver.root, dict) else {}
        self.root = resolver.root_location
        self.major = major_version(self.doc)

    # -- generic ---------------------------------------------------------------------------
    def deref(self, node: Any, loc: Location) -> tuple[Any, Location]:
        """The node a chain of ``$ref``s leads to; ``None`` where one does not resolve."""
        try:
            return self.r.deref(node, loc)
        except ContractError:
            return None, loc

    def ref_target(self, ref: Any, loc: Location) -> Location | None:
        """Where the ``$ref`` object ``ref`` at ``loc`` points (None: not a resolvable one)."""
        if not isinstance(ref, dict) or "$ref" not in ref:
            return None
        try:
            return self.r.resolve_ref(ref["$ref"], loc.child("$ref"))[1]
        except ContractError:
            return None

    def entries(self, mapping: Any, loc: Location) -> Iterator[tuple[str, Node, Location]]:
        """(key, node after ``$ref``, its location) of a map of objects; ``x-`` keys skipped."""
        if not isinstance(mapping, dict):
            return
        for key, raw in mapping.items():
            if key.startswith("x-"):
                continue
            node, nloc = self.deref(raw, loc.child(key))
            if isinstance(node, dict):
                yield key, node, nloc

    def with_traits(self, node: Node, loc: Location) -> Node:
        traits = node.get("traits")
        if not isinstance(traits, list):
            return node
        merged: Node = {}
        for i, trait in enumerate(traits):
            t, _ = self.deref(trait, loc.child("traits", i))
            if isinstance(t, list) and t:
                t, _ = self.deref(t[0], loc.child("traits", i, 0))
            if isinstance(t, dict):
                merged = merge(merged, t)
        return merge(merged, {k: v for k, v in node.items() if k != "traits"})

    # -- servers ---------------------------------------------------------------------------
    def servers(self) -> tuple[SourceServer, ...]:
        out: list[SourceServer] = []
        for name, s, sloc in self.entries(self.doc.get("servers"), self.root.child("servers")):
            if self.major == 2:
                host = s.get("url")
            else:
                host = s.get("host")
                if isinstance(s.get("pathname"), str):
                    host = f"{host}{s['pathname']}"
            version = s.get("protocolVersion")
            out.append(
                SourceServer(
                    name=name,
                    host=str(host or ""),
                    protocol=str(s.get("protocol", "")).lower(),
                    protocol_version=str(version) if "protocolVersion" in s else None,
                    node=s,
                    loc=sloc,
                )
            )
        return tuple(out)

    def channel_servers(self, node: Node, loc: Location) -> tuple[str, ...] | None:
        servers = node.get("servers")
        if not isinstance(servers, list) or not servers:
            return None
        names: list[str] = []
        for i, s in enumerate(servers):
            if isinstance(s, str):  # 2.x: server names
                names.append(s)
            elif (sloc := self.ref_target(s, loc.child("servers", i))) is not None:  # 3.0
                names.append(pointer.last(sloc.pointer))
        return tuple(names)

    # -- parameters ------------------------------------------------------------------------
    def parameters(self, raw: Any, loc: Location) -> tuple[SourceParameter, ...]:
        out: list[SourceParameter] = []
        for name, p, ploc in self.entries(raw, loc.child("parameters")):
            if self.major == 2:
                schema: Any = p.get("schema")
                if isinstance(schema, dict):
                    schema, _ = self.deref(schema, ploc.child("schema"))
                schema = schema if isinstance(schema, dict) else {}
                upgraded = {k: v for k, v in schema.items() if k in _PARAMETER_FROM_SCHEMA}
                upgraded |= {k: v for k, v in p.items() if k != "schema"}
                if "examples" not in p and "examples" in schema:
                    upgraded["examples"] = schema["examples"]
                p = upgraded
            out.append(SourceParameter(name, p, ploc))
        return tuple(out)

    # -- messages --------------------------------------------------------------------------
    def message(
        self, raw: Any, at: Location, key: str | None, context: tuple[str, ...]
    ) -> SourceMessage:
        m, mloc = self.deref(raw, at)
        m = self.with_traits(m, mloc) if isinstance(m, dict) else {}
        keyed = key is not None
        if key is None:
            derived = m.get("messageId") or m.get("name")
            if not derived and "/messages/" in mloc.pointer:
                derived = pointer.last(mloc.pointer)
            key = str(derived) if derived else None
        payload, ploc = m.get("payload"), mloc.child("payload")
        if (
            self.major == 3
            and isinstance(payload, dict)
            and "schema" in payload
            and "schemaFormat" in payload
        ):
            payload, ploc = payload["schema"], ploc.child("schema")
        return SourceMessage(
            key=key or "message",
            named=key is not None,
            keyed=keyed,
            node=m,
            loc=mloc,
            at=at,
            payload=payload,
            payload_loc=ploc,
            context=context,
        )

    # -- channels and operations -----------------------------------------------------------
    def read(self) -> SourceDocument:
        channels, operations = self.read_3() if self.major == 3 else self.read_2()
        return SourceDocument(
            version=str(self.doc.get("asyncapi")),
            major=self.major,
            root=self.doc,
            loc=self.root,
            servers=self.servers(),
            channels=tuple(channels),
            operations=tuple(operations),
        )

    def read_3(self) -> tuple[list[SourceChannel], list[SourceOperation]]:
        channels: list[SourceChannel] = []
        ids: dict[Location, SourceChannel] = {}
        root_channels = self.root.child("channels")
        for cid, ch, cloc in self.entries(self.doc.get("channels"), root_channels):
            address = ch.get("address")
            listed = ch.get("messages")
            messages = tuple(
                self.message(m, cloc.child("messages", k), k, (f"{cid} {k}",))
                for k, m in (listed.items() if isinstance(listed, dict) else ())
            )
            channel = SourceChannel(
                id=cid,
                address=address if isinstance(address, str) else None,
                node=ch,
                loc=cloc,
                at=root_channels.child(cid),
                servers=self.channel_servers(ch, cloc),
                parameters=self.parameters(ch.get("parameters"), cloc),
                messages=messages,
            )
            channels.append(channel)
            ids[channel.at] = ids[cloc] = channel
        operations: list[SourceOperation] = []
        root_ops = self.root.child("operations")
        for oid, op, oloc in self.entries(self.doc.get("operations"), root_ops):
            op = self.with_traits(op, oloc)
            target = self.channel_of(op.get("channel"), oloc.child("channel"), ids)
            reply = self.reply_3(op.get("reply"), oloc.child("reply"), ids)
            stream = op.get("x-reply-stream")
            stream_channel = (
                self.channel_of(stream, oloc.child("x-reply-stream"), ids)
                if isinstance(stream, dict)
                else None
            )
            indices, stray = self.message_indices(op.get("messages"), oloc, target)
            operations.append(
                SourceOperation(
                    id=oid,
                    declared_id=True,
                    action="send" if op.get("action") == "send" else "receive",
                    channel_id=target.id if target else None,
                    messages=indices,
                    stray=stray,
                    node=op,
                    loc=oloc,
                    at=root_ops.child(oid),
                    reply=reply,
                    reply_stream=stream_channel.id if stream_channel else None,
                )
            )
        return channels, operations

    def channel_of(
        self, ref: Any, loc: Location, ids: Mapping[Location, SourceChannel]
    ) -> SourceChannel | None:
        tloc = self.ref_target(ref, loc)
        if tloc is None:
            return None
        if tloc in ids:
            return ids[tloc]
        _, dloc = self.deref(ref, loc)
        return ids.get(dloc)

    def message_indices(
        self, refs: Any, loc: Location, channel: SourceChannel | None
    ) -> tuple[tuple[int, ...] | None, tuple[int, ...]]:
        """Which of the channel's messages an operation (or reply) lists (None: all), and the
        positions of listed messages that are not the channel's."""
        if not isinstance(refs, list) or channel is None:
            return None, ()
        places = {m.at: i for i, m in enumerate(channel.messages)}
        places |= {m.loc: i for i, m in enumerate(channel.messages) if m.loc not in places}
        found: list[int] = []
        stray: list[int] = []
        for i, item in enumerate(refs):
            tloc = self.ref_target(item, loc.child("messages", i))
            if tloc in places:
                found.append(places[tloc])
            elif tloc is not None:
                stray.append(i)
        return tuple(found), tuple(stray)

    def reply_3(
        self, raw: Any, loc: Location, ids: Mapping[Location, SourceChannel]
    ) -> SourceReply | None:
        if raw is None:
            return None
        rep, rloc = self.deref(raw, loc)
        if not isinstance(rep, dict):
            return None
        channel = self.channel_of(rep.get("channel"), rloc.child("channel"), ids)
        address = rep.get("address")
        where = None
        if isinstance(address, dict):
            a, _ = self.deref(address, rloc.child("address"))
            where = a.get("location") if isinstance(a, dict) else None
        indices, stray = self.message_indices(rep.get("messages"), rloc, channel)
        return SourceReply(
            channel_id=channel.id if channel else None,
            messages=indices,
            stray=stray,
            address_location=where if isinstance(where, str) else None,
            node=rep,
            loc=rloc,
        )

    def component_messages(self) -> tuple[SourceMessage, ...]:
        """``components.messages`` (the items of a 2.x ``oneOf`` each)."""
        out: list[SourceMessage] = []
        root = self.root.child("components", "messages")
        components = self.doc.get("components")
        listed = components.get("messages") if isinstance(components, dict) else None
        for key, m, mloc in self.entries(listed, root):
            items = m.get("oneOf") if self.major == 2 else None
            if isinstance(items, list):
                out += [
                    self.message(x, mloc.child("oneOf", i), None, ()) for i, x in enumerate(items)
                ]
            else:
                out.append(self.message(m, mloc, key, ()))
        return tuple(out)

    def read_2(self) -> tuple[list[SourceChannel], list[SourceOperation]]:
        channels: list[SourceChannel] = []
        operations: list[SourceOperation] = []
        root_channels = self.root.child("channels")
        for address, ch, cloc in self.entries(self.doc.get("channels"), root_channels):
            cid = address.strip("/") or address
            at = root_channels.child(address)
            messages: list[SourceMessage] = []
            for verb in ("subscribe", "publish"):  # 2.x subscribe = the application sends
                if verb not in ch:
                    continue
                op, oloc = self.deref(ch[verb], cloc.child(verb))
                if not isinstance(op, dict):
                    continue
                op = self.with_traits(op, oloc)
                first = len(messages)
                if "message" in op:
                    mraw, mloc = self.deref(op["message"], oloc.child("message"))
                    items: list[tuple[Any, Location]] = (
                        [(x, mloc.child("oneOf", i)) for i, x in enumerate(mraw["oneOf"])]
                        if isinstance(mraw, dict) and isinstance(mraw.get("oneOf"), list)
                        else [(op["message"], oloc.child("message"))]
                    )
                    op_id = op.get("operationId")
                    context = (cid, *([op_id] if isinstance(op_id, str) else []))
                    messages += [self.message(x, iloc, None, context) for x, iloc in items]
                operations.append(
                    SourceOperation(
                        id=str(op.get("operationId") or f"{verb}_{snake_case(cid)}"),
                        declared_id="operationId" in op,
                        action="send" if verb == "subscribe" else "receive",
                        channel_id=cid,
                        messages=tuple(range(first, len(messages))),
                        node=op,
                        loc=oloc,
                        at=at.child(verb),
                        reply=None,
                        reply_stream=None,
                    )
                )
            channels.append(
                SourceChannel(
                    id=cid,
                    address=address,  # ``/a/b`` and ``a/b`` are different MQTT topics
                    node=ch,
                    loc=cloc,
                    at=at,
                    servers=self.channel_servers(ch, cloc),
                    parameters=self.parameters(ch.get("parameters"), cloc),
                    messages=tuple(messages),
                )
            )
        return channels, operations


# keywords of a 2.x parameter's ``schema`` that 3.0 states on the parameter itself
_PARAMETER_FROM_SCHEMA = ("enum", "default", "examples", "pattern")


def read_document(resolver: Resolver) -> SourceDocument:
    """The document in the 3.0 shape (2.x upgraded)."""
    return Adapter(resolver).read()
