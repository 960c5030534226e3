"""Compare two contracts (as IR) and classify every difference that matters on the wire.

Channels are paired by id, then by topic shape (so a 2.6 document, whose channel ids are
addresses, pairs with its 3.0 rewrite). Messages are paired by event type; an event type that
disappears while another with the same payload appears is a rename.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mqttwire_codegen.compat import rules as r
from mqttwire_codegen.compat.changes import Change
from mqttwire_codegen.compat.schema_diff import SchemaDiff
from mqttwire_codegen.diagnostics import Location
from mqttwire_codegen.ir import Channel, Contract, DeliveryPolicy, Message, Operation, Parameter
from mqttwire_codegen.pointer import join as pointer_join
from mqttwire_codegen.pointer import last as pointer_last

_PARAM = re.compile(r"\{[^}]*\}")


def topic_shape(address: str) -> str:
    """The address with parameter names erased: what a broker actually matches on."""
    return _PARAM.sub("{}", address)


def where(
    location: Location | None, *tokens: str | int, root: Location | None = None
) -> str | None:
    """A JSON pointer for output: ``#/ptr`` in the root document, ``file.json#/ptr`` elsewhere."""
    if location is None:
        return None
    loc = location.child(*tokens) if tokens else location
    if root is not None and loc.file == root.file:
        return "#" + loc.pointer
    return f"{loc.file.name}#{loc.pointer}"


class ContractDiff:
    """Classified changes from ``old`` to ``new``."""

    def __init__(self, old: Contract, new: Contract) -> None:
        self.old = old
        self.new = new
        self._channel_of: dict[int, str] = {}  # id(change of a message) -> its channel's address

    def changes(self) -> list[Change]:
        self._channel_of = {}
        found = [*self._info(), *self._channels(), *self._operations()]
        # a message shared by several channels is compared once per channel: each change is
        # reported once, naming the channels it affects
        merged: dict[tuple[Any, ...], list[str]] = {}
        for change in found:
            places = merged.setdefault(
                (change.rule, change.old_pointer, change.new_pointer, change.detail), []
            )
            channel = self._channel_of.get(id(change))
            if channel is not None and channel not in places:
                places.append(channel)
        unique = [
            Change(rule, old, new, f"{detail} (on {', '.join(places)})")
            if len(places) > 1
            else Change(rule, old, new, detail)
            for (rule, old, new, detail), places in merged.items()
        ]
        return sorted(
            unique, key=lambda c: (c.old_pointer or c.new_pointer or "", c.rule.id, c.detail)
        )

    # -- helpers ---------------------------------------------------------------------------
    def _p_old(self, location: Location | None, *tokens: str | int) -> str | None:
        return where(location, *tokens, root=self.old.source_file)

    def _p_new(self, location: Location | None, *tokens: str | int) -> str | None:
        return where(location, *tokens, root=self.new.source_file)

    def _info(self) -> Iterator[Change]:
        if self.old.version != self.new.version:
            yield Change(
                r.INFO_VERSION_CHANGED,
                "#/info/version",
                "#/info/version",
                f"info.version {self.old.version} -> {self.new.version}",
            )

    # -- channels --------------------------------------------------------------------------
    def pair_channels(self) -> tuple[list[tuple[Channel, Channel]], list[Channel], list[Channel]]:
        return _pair(
            self.old.channels,
            self.new.channels,
            keys=(lambda ch: ch.id, lambda ch: topic_shape(ch.topic.address or "")),
        )

    def _channels(self) -> Iterator[Change]:
        paired, removed, added = self.pair_channels()
        for ch in removed:
            yield Change(
                r.CHANNEL_REMOVED,
                self._p_old(ch.location),
                None,
                f"channel {ch.id} ({ch.topic.address}) removed",
            )
        for ch in added:
            yield Change(
                r.CHANNEL_ADDED,
                None,
                self._p_new(ch.location),
                f"channel {ch.id} ({ch.topic.address}) added",
            )
        for old, new in paired:
            yield from self._channel(old, new)

    def _channel(self, old: Channel, new: Channel) -> Iterator[Change]:
        po, pn = self._p_old(old.location), self._p_new(new.location)
        if old.id != new.id and old.topic.address == new.topic.address:
            same_version = self.old.asyncapi_version[0] == self.new.asyncapi_version[0]
            if same_version:
                yield Change(r.CHANNEL_ID_RENAMED, po, pn, f"channel id {old.id} -> {new.id}")
        old_shape = topic_shape(old.topic.address or "")
        new_shape = topic_shape(new.topic.address or "")
        if old_shape != new_shape:
            rule = r.ADDRESS_CHANGED
            if old_shape.count("{}") < new_shape.count("{}"):
                rule = r.PARAMETER_ADDED
            elif old_shape.count("{}") > new_shape.count("{}"):
                rule = r.PARAMETER_REMOVED
            yield Change(
                rule,
                self._p_old(old.location, "address"),
                self._p_new(new.location, "address"),
                f"address {old.topic.address} -> {new.topic.address}",
            )
        else:
            for p_old, p_new in zip(old.topic.parameters, new.topic.parameters, strict=False):
                yield from self._parameter(old, p_old, new, p_new)
        if old.envelope != new.envelope:
            yield Change(r.ENVELOPE_CHANGED, po, pn, f"envelope {old.envelope} -> {new.envelope}")
        yield from self._messages(old, new)

    def _parameter(
        self, old_ch: Channel, old: Parameter, new_ch: Channel, new: Parameter
    ) -> Iterator[Change]:
        po = self._p_old(old.location) or self._p_old(old_ch.location, "parameters", old.name)
        pn = self._p_new(new.location) or self._p_new(new_ch.location, "parameters", new.name)
        if old.name != new.name:
            yield Change(r.PARAMETER_RENAMED, po, pn, f"parameter {old.name} -> {new.name}")
        if old.enum == new.enum:
            return
        if old.enum is None:
            yield Change(
                r.PARAMETER_ENUM_ADDED,
                po,
                pn,
                f"parameter {new.name} limited to {list(new.enum or ())}",
            )
        elif new.enum is None:
            yield Change(
                r.PARAMETER_ENUM_REMOVED, po, pn, f"parameter {new.name} no longer an enum"
            )
        else:
            for value in (v for v in old.enum if v not in new.enum):
                yield Change(
                    r.PARAMETER_ENUM_NARROWED,
                    po,
                    pn,
                    f"parameter {new.name} value {value!r} removed",
                )
            for value in (v for v in new.enum if v not in old.enum):
                yield Change(
                    r.PARAMETER_ENUM_WIDENED, po, pn, f"parameter {new.name} value {value!r} added"
                )

    # -- messages --------------------------------------------------------------------------
    def _messages(self, old_ch: Channel, new_ch: Channel) -> Iterator[Change]:
        paired, removed, added = _pair(
            old_ch.messages,
            new_ch.messages,
            keys=(
                lambda m: f"{m.name}|{m.key}",
                lambda m: f"{m.name}|{m.class_name}",
                lambda m: m.name,
            ),
        )
        renames: list[tuple[Message, Message]] = []
        for gone in list(removed):
            twin = next((m for m in added if _same_payload(self, gone, m)), None)
            if twin is not None:
                removed.remove(gone)
                added.remove(twin)
                renames.append((gone, twin))
        for old, new in renames:
            if old.name == new.name:  # same event type, another payload class name: not a rename
                paired.append((old, new))
                continue
            yield Change(
                r.MESSAGE_RENAMED,
                self._p_old(old.location, "name"),
                self._p_new(new.location, "name"),
                f"event type {old.name} -> {new.name} on {new_ch.topic.address}",
            )
            paired.append((old, new))
        for m in removed:
            yield Change(
                r.MESSAGE_REMOVED,
                self._p_old(m.location),
                None,
                f"message {m.name} removed from {old_ch.topic.address}",
            )
        for m in added:
            yield Change(
                r.MESSAGE_ADDED,
                None,
                self._p_new(m.location),
                f"message {m.name} added to {new_ch.topic.address}",
            )
        for old, new in paired:
            for change in self._message(old, new):
                self._channel_of[id(change)] = new_ch.address_text
                yield change

    def _message(self, old: Message, new: Message) -> Iterator[Change]:
        old_ct = old.content_type or self.old.default_content_type
        new_ct = new.content_type or self.new.default_content_type
        if old_ct != new_ct:
            yield Change(
                r.CONTENT_TYPE_CHANGED,
                self._p_old(old.location, "contentType"),
                self._p_new(new.location, "contentType"),
                f"contentType {old_ct} -> {new_ct}",
            )
        if old.envelope != new.envelope:
            yield Change(
                r.ENVELOPE_CHANGED,
                self._p_old(old.location),
                self._p_new(new.location),
                f"envelope {old.envelope} -> {new.envelope}",
            )
        yield from self._payload(old, new)

    def _payload(self, old: Message, new: Message) -> Iterator[Change]:
        differ = SchemaDiff(_defs_resolver(self.old), _defs_resolver(self.new))
        old_ptr = self._p_old(old.payload_location) or "#/payload"
        new_ptr = self._p_new(new.payload_location) or "#/payload"
        yield from differ.compare(old.payload_schema, old_ptr, new.payload_schema, new_ptr)

    # -- operations ------------------------------------------------------------------------
    def _operations(self) -> Iterator[Change]:
        channel_pairs, _, _ = self.pair_channels()
        new_id_of = {old.id: new.id for old, new in channel_pairs}

        def by_channel_action(op: Operation, *, old_side: bool) -> str:
            channel = new_id_of.get(op.channel_id, "") if old_side else op.channel_id
            return f"{channel}|{op.action}"

        paired, removed, added = _pair(
            self.old.operations,
            self.new.operations,
            keys=(lambda op: op.id,),
            second=(
                lambda op: by_channel_action(op, old_side=True),
                lambda op: by_channel_action(op, old_side=False),
            ),
        )
        removed_channels = {ch.id for ch in self.old.channels} - set(new_id_of)
        for op in removed:
            if op.channel_id in removed_channels:
                continue  # already reported as the channel's removal
            rule = r.SEND_REMOVED if op.action == "send" else r.RECEIVE_REMOVED
            yield Change(
                rule, self._p_old(op.location), None, f"operation {op.id} ({op.action}) removed"
            )
        for op in added:
            yield Change(
                r.OPERATION_ADDED,
                None,
                self._p_new(op.location),
                f"operation {op.id} ({op.action}) added",
            )
        for old, new in paired:
            if old.action != new.action:
                yield Change(
                    r.ACTION_CHANGED,
                    self._p_old(old.location, "action"),
                    self._p_new(new.location, "action"),
                    f"operation {new.id} action {old.action} -> {new.action}",
                )
                continue
            yield from self._delivery(old, new)

    def _delivery(self, old_op: Operation, new_op: Operation) -> Iterator[Change]:
        old, new = old_op.delivery, new_op.delivery
        po = self._p_old(old.declared_at) or self._p_old(old_op.location, "bindings", "mqtt")
        pn = self._p_new(new.declared_at) or self._p_new(new_op.location, "bindings", "mqtt")
        label = f"operation {new_op.id}"
        if old.qos != new.qos:
            rule = r.QOS_LOWERED if new.qos < old.qos else r.QOS_RAISED
            yield Change(
                rule, _sub(po, "qos"), _sub(pn, "qos"), f"{label} qos {old.qos} -> {new.qos}"
            )
        if old.retain != new.retain:
            rule = r.RETAIN_ENABLED if new.retain else r.RETAIN_DISABLED
            yield Change(
                rule,
                _sub(po, "retain"),
                _sub(pn, "retain"),
                f"{label} retain {old.retain} -> {new.retain}",
            )
        yield from _expiry(old, new, po, pn, label)


def _expiry(
    old: DeliveryPolicy, new: DeliveryPolicy, po: str | None, pn: str | None, label: str
) -> Iterator[Change]:
    before, after = old.message_expiry_interval, new.message_expiry_interval
    if before == after:
        return
    shortened = after is not None and (before is None or after < before)
    rule = r.EXPIRY_SHORTENED if shortened else r.EXPIRY_LENGTHENED
    yield Change(
        rule,
        _sub(po, "messageExpiryInterval"),
        _sub(pn, "messageExpiryInterval"),
        f"{label} messageExpiryInterval {before} -> {after}",
    )


def _sub(pointer: str | None, token: str) -> str | None:
    return None if pointer is None else pointer_join(pointer, token)


def _defs_resolver(contract: Contract) -> Any:
    def resolve(schema: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
        ref = str(schema["$ref"])
        name = pointer_last(ref.partition("#")[2])
        target = contract.schema_defs.get(name)
        if target is None:
            return {}, pointer  # unresolved: treat as "anything"
        return target, f"#/$defs/{name}"

    return resolve


def _same_payload(diff: ContractDiff, old: Message, new: Message) -> bool:
    differ = SchemaDiff(_defs_resolver(diff.old), _defs_resolver(diff.new))
    return not differ.compare(old.payload_schema, "#", new.payload_schema, "#")


def _pair(
    old: Sequence[Any], new: Sequence[Any], *, keys: Sequence[Any], second: Sequence[Any] = ()
) -> tuple[list[tuple[Any, Any]], list[Any], list[Any]]:
    """Pair items by each key function in turn; returns (pairs, only in old, only in new)."""
    left, right = list(old), list(new)
    pairs: list[tuple[Any, Any]] = []
    key_pairs = [(k, k) for k in keys]
    if second:
        key_pairs.append((second[0], second[1]))
    for key_old, key_new in key_pairs:
        index: dict[str, Any] = {}
        for item in right:
            index.setdefault(key_new(item), item)
        for item in list(left):
            match = index.get(key_old(item))
            if match is not None and any(match is other for other in right):
                pairs.append((item, match))
                left = [other for other in left if other is not item]
                right = [other for other in right if other is not match]
    return pairs, left, right
