"""mqttwire: the asyncio MQTT runtime beneath the generated clients."""

from mqttwire.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    ContractVersionError,
    InvalidTopicError,
    MQTTWireError,
    NotConnectedError,
    OfflineQueueFullError,
    PayloadValidationError,
    PublishError,
    PublishTimeoutError,
    RequestTimeoutError,
    SubscribeError,
    TopicParameterError,
)
from mqttwire.meta import MessageMeta

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConnectError",
    "ContractVersionError",
    "InvalidTopicError",
    "MQTTWireError",
    "MessageMeta",
    "NotConnectedError",
    "OfflineQueueFullError",
    "PayloadValidationError",
    "PublishError",
    "PublishTimeoutError",
    "RequestTimeoutError",
    "SubscribeError",
    "TopicParameterError",
]
