"""Client, channel table and package ``__init__`` from the IR via jinja2 (StrictUndefined)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mqttwire_codegen import __version__, pointer
from mqttwire_codegen.ir import Channel, Contract, Message, Parameter

RUNTIME_API = 3
DEFAULT_REQUEST_TIMEOUT = 30.0


def _py(value: object) -> str:
    """A Python literal for ``value`` (str, int, float, bool, None, tuples of those)."""
    if isinstance(value, tuple):
        return "(" + "".join(f"{_py(v)}, " for v in value) + ")"
    return repr(value)


def _doc(value: object) -> str:
    """Text safe inside a triple-quoted docstring."""
    text = str(value).strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return text.rstrip('"') if text.endswith('"') else text


def _summary(text: str) -> str:
    """The first sentence of a description's first paragraph, on one line."""
    paragraph = " ".join(str(text).strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


@dataclass(frozen=True, slots=True)
class ParamView:
    name: str
    py_name: str
    type: str  # Python annotation
    enum: tuple[str, ...] | None
    default: str | None
    pattern: str | None


@dataclass(frozen=True, slots=True)
class MessageView:
    event_type: str
    class_name: str
    raw_type: str | None  # ``str``/``bytes`` for a bare text/binary message (see ``raw_type``)
    envelope: bool | None  # only spelled out where it departs from the channel's rule
    content_type: str | None


@dataclass(frozen=True, slots=True)
class ChannelView:
    name: str
    publish_method: str
    subscribe_method: str
    const: str
    address: str
    runtime_address: bool  # no address in the contract: methods take the topic / filter
    params: tuple[ParamView, ...]
    messages: tuple[MessageView, ...]
    payload_type: str
    headers_type: str
    envelope: bool
    carries_envelope: bool  # correlation_id= is offered only where an envelope can carry it
    publish_qos: int
    publish_retain: bool
    subscribe_qos: int
    expiry: int | None
    share_group: str | None
    publishable: bool
    receivable: bool
    event_types: tuple[str, ...]
    publish_doc: str
    description: str | None


@dataclass(frozen=True, slots=True)
class RequestView:
    name: str
    const: str
    request_const: str
    reply_const: str
    stream_const: str | None
    stream_address: str | None
    stream_type: str | None
    stream_only_type: str | None
    address: str
    reply_address: str
    params: tuple[ParamView, ...]
    share_group: str | None
    payload_type: str
    reply_type: str
    serve: bool
    correlation: str
    reply_to: str | None
    timeout: float


@dataclass(frozen=True, slots=True)
class TemplateContext:
    generator_version: str
    contract_name: str
    asyncapi_version: str
    sha256: str
    title: str
    version: str
    description: str | None
    package: str
    client_name: str
    runtime_api: int
    channels: tuple[ChannelView, ...]
    requests: tuple[RequestView, ...]

    def variables(self) -> dict[str, Any]:
        """The template variables (views stay objects: templates read ``ch.name``)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _param_view(p: Parameter) -> ParamView:
    type_ = "Literal[" + ", ".join(repr(v) for v in p.enum) + "]" if p.enum else "str"
    return ParamView(p.name, p.py_name, type_, p.enum, p.default, p.pattern)


def _union(names: list[str]) -> str:
    unique = list(dict.fromkeys(names))
    return " | ".join(f"models.{n}" for n in unique)


_TEXT_TYPES = ("text/", "application/xml", "application/yaml", "application/x-yaml")


def raw_type(m: Message) -> str | None:
    """``str`` for a bare ``text/*`` message whose schema is a plain string, ``bytes`` for a
    bare binary one (``format: binary``): published from and delivered as that type instead
    of its ``RootModel`` (``None``: the model itself)."""
    schema = m.payload_schema
    if m.envelope or m.content_type is None or schema.get("type") != "string":
        return None
    if any(k in schema for k in ("enum", "const", "$ref", "oneOf", "anyOf", "allOf")):
        return None
    base = m.content_type.split(";", 1)[0].strip().lower()
    if base.endswith("json"):
        return None
    if base.startswith(_TEXT_TYPES):
        return "str" if "format" not in schema else None
    return "bytes" if schema.get("format") == "binary" else None


def _types(messages: list[Message] | tuple[Message, ...]) -> str:
    """The Python type of a payload of one of ``messages`` (a union)."""
    return " | ".join(dict.fromkeys(raw_type(m) or f"models.{m.class_name}" for m in messages))


def _policy_doc(ch: Channel) -> str:
    pol = ch.publish_policy
    events = ", ".join(dict.fromkeys(m.name for m in ch.messages))
    formats = ", ".join(
        dict.fromkeys(
            "JSON" if m.content_type is None or "json" in m.content_type else m.content_type
            for m in ch.messages
        )
    )
    kind = f"envelope type {events}" if ch.envelope else f"bare {formats}"
    return f"QoS {pol.qos}, retain {pol.retain}, {kind}"


def _shared_event_types(ch: Channel) -> list[str]:
    """Event types of messages whose model is shared with another message of the channel (the
    publisher then chooses the type; the first one is the default)."""
    counts: dict[str, int] = {}
    for m in ch.messages:
        counts[m.class_name] = counts.get(m.class_name, 0) + 1
    return list(dict.fromkeys(m.name for m in ch.messages if counts[m.class_name] > 1))


def _header_name(location: str | None) -> str | None:
    """``$message.header#/replyTo`` -> ``replyTo`` (a reply address read from a header)."""
    prefix = "$message.header#/"
    if location is None or not location.startswith(prefix):
        return None
    return pointer.unescape(location[len(prefix) :])


def _channel_view(ch: Channel, sends: bool = True, receives: bool = True) -> ChannelView:
    return ChannelView(
        name=ch.py_name,
        publish_method=ch.publish_name,
        subscribe_method=ch.subscribe_name,
        const=ch.const_name,
        address=ch.address_text,
        runtime_address=ch.topic.address is None,
        params=tuple(_param_view(p) for p in ch.topic.parameters),
        messages=tuple(
            MessageView(
                event_type=m.name,
                class_name=m.class_name,
                raw_type=raw_type(m),
                envelope=None if m.envelope == ch.envelope else m.envelope,
                content_type=m.content_type,
            )
            for m in ch.messages
        ),
        payload_type=_types(ch.messages),
        headers_type=_union([m.headers_class for m in ch.messages if m.headers_class]),
        envelope=ch.envelope,
        carries_envelope=ch.envelope or any(m.envelope for m in ch.messages),
        publish_qos=ch.publish_policy.qos,
        publish_retain=ch.publish_policy.retain,
        subscribe_qos=ch.subscribe_policy.qos,
        expiry=ch.publish_policy.message_expiry_interval,
        share_group=ch.share_group,
        publishable=sends and not ch.topic.has_wildcards,
        receivable=receives,
        event_types=tuple(_shared_event_types(ch)),
        publish_doc=_policy_doc(ch),
        description=ch.description,
    )


def template_context(contract: Contract, package: str, contract_name: str) -> TemplateContext:
    channels = contract.client_channels
    by_id = {ch.id: ch for ch in channels}
    requests: list[RequestView] = []
    for op, req, rep in contract.request_methods:
        assert op.reply is not None
        replies = op.reply.messages
        if not {m.class_name for m in rep.messages} <= {m.class_name for m in replies}:
            # any message of the reply channel is handed over as the reply: type it so
            replies = rep.messages
        stream = by_id.get(op.reply_stream_channel_id or "")
        requests.append(
            RequestView(
                name=req.py_name,
                const=req.const_name,
                request_const=req.const_name,
                reply_const=rep.const_name,
                stream_const=stream.const_name if stream else None,
                stream_address=stream.topic.address if stream else None,
                stream_type=_types([*stream.messages, *replies]) if stream else None,
                stream_only_type=_types(stream.messages) if stream else None,
                address=req.address_text,
                reply_address=rep.address_text,
                params=tuple(_param_view(p) for p in req.topic.parameters),
                share_group=req.share_group,
                payload_type=_types(req.messages),
                reply_type=_types(replies),
                serve=contract.directions(req.id)[1],
                correlation=op.reply.correlation,
                reply_to=_header_name(op.reply.address),
                timeout=DEFAULT_REQUEST_TIMEOUT,
            )
        )
    return TemplateContext(
        generator_version=__version__,
        contract_name=contract_name,
        asyncapi_version=contract.asyncapi_version,
        sha256=contract.sha256,
        title=contract.title,
        version=contract.version,
        description=contract.description,
        package=package,
        client_name=contract.client_name,
        runtime_api=RUNTIME_API,
        channels=tuple(_channel_view(ch, *contract.directions(ch.id)) for ch in channels),
        requests=tuple(requests),
    )


def render_templates(context: TemplateContext) -> dict[str, str]:
    """``{relative path: source}`` for the jinja-rendered modules (unformatted)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mqttwire_codegen", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = _py
    env.filters["doc"] = _doc
    env.filters["summary"] = _summary
    variables = context.variables()
    return {
        "__init__.py": env.get_template("init.py.j2").render(variables),
        "channels.py": env.get_template("channels.py.j2").render(variables),
        "client.py": env.get_template("client.py.j2").render(variables),
    }


def header(context: TemplateContext) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mqttwire_codegen", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("header.j2").render(context.variables())
