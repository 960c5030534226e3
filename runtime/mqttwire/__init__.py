"""mqttwire: the asyncio MQTT runtime beneath the generated clients."""

from mqttwire.client import MQTTClient
from mqttwire.config import ENV_VARIABLES, MQTTClientConfig
from mqttwire.dedupe import MessageDeduplicator, dedupe_key
from mqttwire.dispatch import DeadLetterHandler, Handler, RetryPolicy, Subscription
from mqttwire.envelope import Envelope, decode_envelope, encode_envelope, new_message_id
from mqttwire.errors import (
    AuthenticationError,
    BrokerLimitError,
    ConfigError,
    ConnectError,
    ContractVersionError,
    InvalidTopicError,
    MQTTWireError,
    NeedsMQTT5Error,
    NotConnectedError,
    OfflineQueueFullError,
    OutboxCorruptError,
    OutboxError,
    PayloadValidationError,
    ProtocolNotSupportedError,
    PublishError,
    PublishTimeoutError,
    QoSNotGrantedError,
    QoSNotSupportedError,
    RequestTimeoutError,
    SubscribeError,
    TopicParameterError,
)
from mqttwire.health import (
    HEALTH_EVENT_TYPE,
    HealthStatus,
    HeartbeatPayload,
    health_topic,
    keepalive_topic,
)
from mqttwire.meta import MessageMeta
from mqttwire.metrics import ClientMetrics
from mqttwire.state import ClientState
from mqttwire.topic_filter import (
    TopicFilter,
    topic_matches,
    validate_topic_filter,
    validate_topic_name,
)
from mqttwire.transport import MessageProperties, Transport
from mqttwire.url import ConnectionParams
from mqttwire.version import RUNTIME_API_VERSION, __version__

__all__ = [
    "ENV_VARIABLES",
    "HEALTH_EVENT_TYPE",
    "RUNTIME_API_VERSION",
    "AuthenticationError",
    "BrokerLimitError",
    "ClientMetrics",
    "ClientState",
    "ConfigError",
    "ConnectError",
    "ConnectionParams",
    "ContractVersionError",
    "DeadLetterHandler",
    "Envelope",
    "Handler",
    "HealthStatus",
    "HeartbeatPayload",
    "InvalidTopicError",
    "MQTTClient",
    "MQTTClientConfig",
    "MQTTWireError",
    "MessageDeduplicator",
    "MessageMeta",
    "MessageProperties",
    "NeedsMQTT5Error",
    "NotConnectedError",
    "OfflineQueueFullError",
    "OutboxCorruptError",
    "OutboxError",
    "PayloadValidationError",
    "ProtocolNotSupportedError",
    "PublishError",
    "PublishTimeoutError",
    "QoSNotGrantedError",
    "QoSNotSupportedError",
    "RequestTimeoutError",
    "RetryPolicy",
    "SubscribeError",
    "Subscription",
    "TopicFilter",
    "TopicParameterError",
    "Transport",
    "__version__",
    "decode_envelope",
    "dedupe_key",
    "encode_envelope",
    "health_topic",
    "keepalive_topic",
    "new_message_id",
    "topic_matches",
    "validate_topic_filter",
    "validate_topic_name",
]
