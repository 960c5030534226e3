"""Configuration of the py-tars drop-in: the seed's config model, environment rules and URL.

The seed's semantics are kept where services and their tests depend on them: ``MQTT_URL`` and
``MQTT_CLIENT_ID`` are required (``KeyError`` naming the variable), only ``true`` (any case)
is a true boolean, numbers go through ``int()``/``float()``, URLs are ``mqtt://`` only with
``localhost:1883`` as defaults and userinfo taken verbatim (not percent-decoded).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlparse

from pydantic import BaseModel, Field, model_validator

from mqttwire.compat._tars_errors import InvalidMQTTURLError
from mqttwire.config import MQTTClientConfig as RuntimeConfig
from mqttwire.errors import ConfigError

__all__ = ["ConnectionParams", "MQTTClientConfig", "parse_mqtt_url", "runtime_config"]

_REDACTED = "***REDACTED***"
_Number = TypeVar("_Number", int, float)


class ConnectionParams(BaseModel):
    """Broker address and credentials parsed from ``mqtt_url``; the password never in repr/str."""

    hostname: str
    port: int = 1883
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        shown = _REDACTED if self.password else None
        return (
            f"ConnectionParams(hostname={self.hostname!r}, port={self.port}, "
            f"username={self.username!r}, password={shown!r})"
        )

    def __str__(self) -> str:
        return self.__repr__()

    def runtime_url(self) -> str:
        """The URL for mqttwire's config. Userinfo is percent-encoded here because the runtime
        decodes it: the broker then sees exactly the strings the seed would have sent."""
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        auth = ""
        if self.username is not None:
            auth = quote(self.username, safe="")
            if self.password is not None:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        return f"mqtt://{auth}{host}:{self.port}"


def parse_mqtt_url(url: str) -> ConnectionParams:
    """``mqtt://[user[:password]@]host[:port]`` (path and query ignored) -> :class:`ConnectionParams`.

    Only the ``mqtt`` scheme (any case) is accepted; a missing host is ``localhost``, a missing
    port 1883. Raises :class:`InvalidMQTTURLError` (a ``ValueError``) otherwise.
    """
    parsed = urlparse(url)
    if parsed.scheme != "mqtt":
        raise InvalidMQTTURLError(
            f"Invalid MQTT URL scheme: {parsed.scheme!r}; expected 'mqtt://'",
            scheme=parsed.scheme,
        )
    try:
        port = parsed.port
    except ValueError:
        raise InvalidMQTTURLError("Invalid MQTT URL: the port is not a number in 0-65535") from None
    return ConnectionParams(
        hostname=parsed.hostname or "localhost",
        port=port or 1883,
        username=parsed.username,
        password=parsed.password,
    )


class MQTTClientConfig(BaseModel):
    """The seed's eleven settings with its defaults and ranges (extra keys are ignored).

    Unlike the seed, the two cross-field rules are checked whatever fields were passed (the
    seed skipped them when the later field was left at its default).
    """

    mqtt_url: str
    client_id: str
    source_name: str | None = None
    keepalive: int = Field(default=60, ge=1, le=3600)
    enable_health: bool = False
    enable_heartbeat: bool = False
    heartbeat_interval: float = Field(default=5.0, ge=1.0)
    dedupe_ttl: float = Field(default=0.0, ge=0.0)
    dedupe_max_entries: int = Field(default=0, ge=0)
    reconnect_min_delay: float = Field(default=0.5, ge=0.1)
    reconnect_max_delay: float = Field(default=5.0, ge=0.5)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        if self.reconnect_max_delay < self.reconnect_min_delay:
            raise ValueError(
                f"reconnect_max_delay ({self.reconnect_max_delay}) must be >= "
                f"reconnect_min_delay ({self.reconnect_min_delay})"
            )
        if self.dedupe_ttl > 0 and self.dedupe_max_entries == 0:
            raise ValueError(
                f"dedupe_max_entries must be > 0 when dedupe_ttl={self.dedupe_ttl} "
                "(deduplication needs a bounded cache)"
            )
        return self

    @classmethod
    def from_env(cls) -> MQTTClientConfig:
        """Read ``MQTT_URL``, ``MQTT_CLIENT_ID`` (both required) and the nine optional variables."""
        env = os.environ
        return cls(
            mqtt_url=env["MQTT_URL"],
            client_id=env["MQTT_CLIENT_ID"],
            source_name=env.get("MQTT_SOURCE_NAME"),
            keepalive=_number(env, "MQTT_KEEPALIVE", "60", int),
            enable_health=_flag(env, "MQTT_ENABLE_HEALTH"),
            enable_heartbeat=_flag(env, "MQTT_ENABLE_HEARTBEAT"),
            heartbeat_interval=_number(env, "MQTT_HEARTBEAT_INTERVAL", "5.0", float),
            dedupe_ttl=_number(env, "MQTT_DEDUPE_TTL", "0.0", float),
            dedupe_max_entries=_number(env, "MQTT_DEDUPE_MAX_ENTRIES", "0", int),
            reconnect_min_delay=_number(env, "MQTT_RECONNECT_MIN_DELAY", "0.5", float),
            reconnect_max_delay=_number(env, "MQTT_RECONNECT_MAX_DELAY", "5.0", float),
        )


def _flag(env: Mapping[str, str], variable: str) -> bool:
    """The seed's rule: ``true`` in any case is true; anything else (``1``, ``yes``, empty) false."""
    return env.get(variable, "").lower() == "true"


def _number(env: Mapping[str, str], variable: str, default: str, kind: type[_Number]) -> _Number:
    raw = env.get(variable, default)
    try:
        return kind(raw)
    except ValueError:
        kind_name = "an integer" if kind is int else "a number"
        raise ConfigError(variable, f"must be {kind_name}", raw) from None


def runtime_config(config: MQTTClientConfig, params: ConnectionParams) -> RuntimeConfig:
    """The mqttwire config under a drop-in client (dedupe stays in the drop-in: its rules)."""
    settings: dict[str, Any] = {
        "url": params.runtime_url(),
        "client_id": config.client_id,
        "source_name": config.source_name or None,
        "keepalive": config.keepalive,
        "enable_health": config.enable_health,
        "enable_heartbeat": config.enable_heartbeat,
        "heartbeat_interval": config.heartbeat_interval,
        "reconnect_min_delay": config.reconnect_min_delay,
        "reconnect_max_delay": config.reconnect_max_delay,
    }
    return RuntimeConfig(**settings)
