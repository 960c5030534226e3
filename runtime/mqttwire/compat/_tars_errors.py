"""Errors of the py-tars drop-in: typed, and of the built-in classes the seed's callers catch."""

from __future__ import annotations

from mqttwire.errors import MQTTWireError, NotConnectedError

__all__ = ["ClientNotConnectedError", "ConnectionLostError", "InvalidMQTTURLError"]


class ClientNotConnectedError(NotConnectedError, RuntimeError):
    """``publish_event``/``subscribe``/``wait_for_disconnect`` outside a connection cycle.

    A ``RuntimeError`` as in the seed, so ``except RuntimeError`` keeps working.
    """


class ConnectionLostError(MQTTWireError, ConnectionError):
    """The link of the current connection cycle went down (``wait_for_disconnect`` raises it)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"connection to MQTT broker {host}:{port} lost: {reason}")


class InvalidMQTTURLError(MQTTWireError, ValueError):
    """``mqtt_url`` cannot be used: wrong scheme or bad port. Never shows the password."""

    def __init__(self, reason: str, *, scheme: str | None = None) -> None:
        self.reason = reason
        self.scheme = scheme
        super().__init__(reason)
