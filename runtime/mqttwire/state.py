"""The client's lifecycle states."""

from __future__ import annotations

import enum

__all__ = ["ClientState"]


class ClientState(enum.Enum):
    """``created -> connecting -> connected <-> reconnecting -> disconnecting -> disconnected``."""

    CREATED = "created"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTING = "disconnecting"
    DISCONNECTED = "disconnected"
