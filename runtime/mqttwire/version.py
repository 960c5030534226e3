"""Versions. Generated packages check at import that the runtime serves their API version."""

from __future__ import annotations

from mqttwire.errors import ContractVersionError

__version__ = "0.1.0"

# The interface generated code uses (mqttwire.typed, mqttwire.specs). Bump it when generated
# code starts to need something new; keep the older versions in SUPPORTED_RUNTIME_APIS for as
# long as the runtime still serves code generated for them.
#   1: typed publish/subscribe/request/serve
#   2: share groups (ChannelSpec.share_group, share_group= on subscribe/serve), MQTT 5 content
#      types (MessageSpec.content_type)
#   3: generic specs (ChannelSpec[M], RequestSpec[Q, R], StreamingRequestSpec[Q, R, S]),
#      RawMessageSpec (str / bytes payloads), Handler, PublishOptions, EnvelopePublishOptions
RUNTIME_API_VERSION = 3
SUPPORTED_RUNTIME_APIS = frozenset({1, 2, 3})


def require_runtime_api(package: str, required: int) -> None:
    """Raise ContractVersionError when generated code needs a runtime API this one lacks."""
    if required not in SUPPORTED_RUNTIME_APIS:
        raise ContractVersionError(package, required, RUNTIME_API_VERSION)
