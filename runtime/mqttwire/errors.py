"""The exception tree. Every error carries the data a caller needs, not only a message."""

from __future__ import annotations

from collections.abc import Sequence


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
    """A publish could not be completed."""

    def __init__(self, topic: str, reason: str, *, qos: int = 0) -> None:
        self.topic = topic
        self.reason = reason
        self.qos = qos
        super().__init__(f"publish to {topic!r} (qos {qos}) failed: {reason}")


class PublishTimeoutError(PublishError):
    """A publish was not acknowledged within its timeout."""

    def __init__(self, topic: str, timeout: float, *, qos: int = 0) -> None:
        self.timeout = timeout
        super().__init__(topic, f"not acknowledged within {timeout:g}s", qos=qos)


class OfflineQueueFullError(PublishError):
    """The offline queue is full; the message was not accepted."""

    def __init__(self, topic: str, capacity: int, *, qos: int = 0) -> None:
        self.capacity = capacity
        super().__init__(topic, f"offline queue full ({capacity} messages)", qos=qos)


class SubscribeError(MQTTWireError):
    """The broker refused a subscription."""

    def __init__(self, topic_filter: str, reason: str) -> None:
        self.topic_filter = topic_filter
        self.reason = reason
        super().__init__(f"subscribe to {topic_filter!r} failed: {reason}")


class InvalidTopicError(MQTTWireError, ValueError):
    """A topic or topic filter breaks the MQTT rules."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(f"invalid topic {topic!r}: {reason}")


class TopicParameterError(MQTTWireError, ValueError):
    """A topic parameter value is not allowed (empty, contains / + # or NUL, not in enum)."""

    def __init__(self, parameter: str, value: str, reason: str) -> None:
        self.parameter = parameter
        self.value = value
        self.reason = reason
        super().__init__(f"topic parameter {parameter}={value!r}: {reason}")


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
