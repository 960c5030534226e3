"""The exception tree. Every error carries the data a caller needs, not only a message."""

from __future__ import annotations

from collections.abc import Sequence

from mqttwire.safe_log import shown


class MQTTWireError(Exception):
    """Base class of every error raised by mqttwire."""


class ConfigError(MQTTWireError, ValueError):
    """A configuration value is invalid; names the environment variable and the rule."""

    def __init__(self, variable: str, rule: str, value: object) -> None:
        self.variable = variable
        self.rule = rule
        self.value = value
        super().__init__(f"{variable} {rule}, got {value!r}")


class NotConnectedError(MQTTWireError):
    """An operation needs a live connection and there is none (and it cannot be queued)."""

    def __init__(self, operation: str, state: str) -> None:
        self.operation = operation
        self.state = state
        super().__init__(f"cannot {operation}: client is {state}")


class ConnectError(MQTTWireError):
    """Connecting to the broker failed. Never carries the password."""

    def __init__(self, host: str, port: int, reason: str, *, fatal: bool = False) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        self.fatal = fatal
        super().__init__(f"cannot connect to MQTT broker {host}:{port}: {reason}")


class AuthenticationError(ConnectError):
    """The broker refused the credentials or the client is not authorized (CONNACK refusal)."""


class PublishError(MQTTWireError):
    """A publish could not be completed.

    ``reason_code`` is the broker's MQTT 5 failure reason code when it refused the message in
    its PUBACK/PUBREC (e.g. ``0x87`` not authorized), else ``None``.
    """

    def __init__(
        self, topic: str, reason: str, *, qos: int = 0, reason_code: int | None = None
    ) -> None:
        self.topic = topic
        self.reason = reason
        self.qos = qos
        self.reason_code = reason_code
        super().__init__(f"publish to {shown(topic)} (qos {qos}) failed: {reason}")


class PublishTimeoutError(PublishError):
    """A publish was not acknowledged within its timeout."""

    def __init__(self, topic: str, timeout: float, *, qos: int = 0) -> None:
        self.timeout = timeout
        super().__init__(topic, f"not acknowledged within {timeout:g}s", qos=qos)


class OfflineQueueFullError(PublishError):
    """The offline queue is full; the message was not accepted.

    ``capacity`` is the bound in messages; ``max_bytes`` is set when the payload-bytes bound
    (``offline_queue_bytes``) is the one that was reached.
    """

    def __init__(
        self, topic: str, capacity: int, *, qos: int = 0, max_bytes: int | None = None
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        bound = f"{capacity} messages" if max_bytes is None else f"{max_bytes} payload bytes"
        super().__init__(topic, f"offline queue full ({bound})", qos=qos)


class OutboxError(MQTTWireError):
    """The durable offline queue file (``offline_queue_path``) cannot be used.

    Raised when the client is built: the file cannot be opened or written, is another
    program's SQLite database, or is in use by another process.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"offline queue file {path!r}: {reason}")


class OutboxCorruptError(OutboxError):
    """The durable offline queue file was corrupt; it was renamed to ``moved_to`` (kept, not
    emptied) and the client started with an empty queue. Logged, and left in
    :attr:`~mqttwire.MQTTClient.last_error`; not raised.
    """

    def __init__(self, path: str, reason: str, *, moved_to: str) -> None:
        self.moved_to = moved_to
        super().__init__(path, f"corrupt ({reason}); moved aside to {moved_to!r}")


class SubscribeError(MQTTWireError):
    """The broker refused a subscription.

    ``reason_code`` is the SUBACK code when the broker refused it (``0x80`` on 3.1.1; on MQTT 5
    e.g. ``0x87`` not authorized or ``0x9E`` shared subscriptions not supported), else ``None``.
    """

    def __init__(self, topic_filter: str, reason: str, *, reason_code: int | None = None) -> None:
        self.topic_filter = topic_filter
        self.reason = reason
        self.reason_code = reason_code
        super().__init__(f"subscribe to {topic_filter!r} failed: {reason}")


class BrokerLimitError(MQTTWireError):
    """The broker lacks a feature the client was asked to use (QoS 2, MQTT 5, ...).

    Raised instead of silently getting less than asked for. ``limit`` names what the broker
    does not offer; the concrete classes below are also a :class:`ConnectError`,
    :class:`SubscribeError` or :class:`PublishError`, so existing handlers still catch them.
    """

    limit: str = ""


class ProtocolNotSupportedError(ConnectError, BrokerLimitError):
    """The broker does not speak the configured MQTT ``protocol`` (e.g. MQTT 5 on NATS)."""

    def __init__(self, host: str, port: int, reason: str, *, protocol: str) -> None:
        self.protocol = protocol
        self.limit = f"MQTT {protocol} not supported"
        super().__init__(host, port, reason, fatal=True)


class QoSNotGrantedError(SubscribeError, BrokerLimitError):
    """The broker granted a lower QoS than the subscription asked for (SUBACK downgrade)."""

    def __init__(
        self, topic_filter: str, *, requested_qos: int, granted_qos: int, broker: str = ""
    ) -> None:
        self.requested_qos = requested_qos
        self.granted_qos = granted_qos
        self.broker = broker
        self.limit = f"QoS {requested_qos} not supported (broker grants at most QoS {granted_qos})"
        where = f"broker {broker}" if broker else "the broker"
        super().__init__(
            topic_filter,
            f"{where} granted QoS {granted_qos} for a QoS {requested_qos} subscription: it "
            f"does not support QoS {requested_qos}; subscribe with qos={granted_qos} (and dedupe "
            "at the handler) or use a broker that does",
            reason_code=granted_qos,
        )


class QoSNotSupportedError(PublishError, BrokerLimitError):
    """The broker does not support the QoS of a publish (learned from its SUBACK)."""

    def __init__(self, topic: str, *, qos: int, max_qos: int, broker: str = "") -> None:
        self.max_qos = max_qos
        self.broker = broker
        self.limit = f"QoS {qos} not supported (broker maximum QoS {max_qos})"
        where = f"broker {broker}" if broker else "the broker"
        super().__init__(
            topic,
            f"{where} supports QoS up to {max_qos} (it granted QoS {max_qos} for a QoS {qos} "
            f"subscription); publish with qos={max_qos} and dedupe at the receiver, or use a "
            f"broker with QoS {qos}",
            qos=qos,
        )


class InvalidTopicError(MQTTWireError, ValueError):
    """A topic or topic filter breaks the MQTT rules."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(f"invalid topic {shown(topic)}: {reason}")


class TopicParameterError(MQTTWireError, ValueError):
    """A topic parameter value is not allowed (empty, contains / + # or NUL, not in enum)."""

    def __init__(self, parameter: str, value: str, reason: str) -> None:
        self.parameter = parameter
        self.value = value
        self.reason = reason
        super().__init__(f"topic parameter {parameter}={shown(value)}: {reason}")


class PayloadValidationError(MQTTWireError, ValueError):
    """A payload does not match its model. ``errors`` holds pydantic's error list."""

    def __init__(self, topic: str, model: str, errors: Sequence[object], reason: str = "") -> None:
        self.topic = topic
        self.model = model
        self.errors = list(errors)
        self.reason = reason or f"{len(self.errors)} validation error(s)"
        super().__init__(f"payload on {topic!r} is not a valid {model}: {self.reason}")


class RequestTimeoutError(MQTTWireError, TimeoutError):
    """No reply arrived for a request within its timeout."""

    def __init__(self, topic: str, correlation_id: str, timeout: float) -> None:
        self.topic = topic
        self.correlation_id = correlation_id
        self.timeout = timeout
        super().__init__(f"no reply to request on {topic!r} (id {correlation_id}) in {timeout:g}s")


class NeedsMQTT5Error(MQTTWireError):
    """What the contract declares for this call travels in MQTT 5 properties (headers, header or
    correlation-data correlation) but the connection speaks MQTT 3.1.1."""

    def __init__(self, channel: str, feature: str) -> None:
        self.channel = channel
        self.feature = feature
        super().__init__(
            f"{channel}: {feature} travels as MQTT 5 properties, but this connection is MQTT "
            "3.1.1 (set MQTT_PROTOCOL=5, or declare it in the payload in the contract)"
        )


class ContractVersionError(MQTTWireError, ImportError):
    """Generated code needs a runtime API version that the installed mqttwire does not offer."""

    def __init__(self, package: str, required: int, available: int) -> None:
        self.package = package
        self.required = required
        self.available = available
        super().__init__(
            f"{package} was generated for mqttwire runtime API {required}, but the installed "
            f"mqttwire provides API {available}; regenerate it or install a matching mqttwire"
        )
