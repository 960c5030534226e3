"""Client configuration: the ``MQTT_*`` environment variables, validated at construction."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from mqttwire.errors import ConfigError
from mqttwire.mqtt_text import text_problem
from mqttwire.url import ConnectionParams, parse_urls, redact_url

__all__ = ["ENV_VARIABLES", "MQTTClientConfig"]

# field name -> (environment variable, rule shown when the value is rejected)
_FIELDS: dict[str, tuple[str, str]] = {
    "url": (
        "MQTT_URL",
        "must look like mqtt://[user:password@]host[:port] (several: comma-separated)",
    ),
    "client_id": (
        "MQTT_CLIENT_ID",
        "must be a non-empty string without / + #, control characters or non-characters, "
        "at most 65535 bytes (UTF-8)",
    ),
    "source_name": ("MQTT_SOURCE_NAME", "must be a string"),
    "keepalive": ("MQTT_KEEPALIVE", "must be between 1 and 3600"),
    "enable_health": ("MQTT_ENABLE_HEALTH", "must be a boolean (true/false/1/0/yes/no/on/off)"),
    "enable_heartbeat": (
        "MQTT_ENABLE_HEARTBEAT",
        "must be a boolean (true/false/1/0/yes/no/on/off)",
    ),
    "heartbeat_interval": ("MQTT_HEARTBEAT_INTERVAL", "must be a number >= 1.0 (seconds)"),
    "dedupe_ttl": ("MQTT_DEDUPE_TTL", "must be a number >= 0 (seconds)"),
    "dedupe_max_entries": ("MQTT_DEDUPE_MAX_ENTRIES", "must be an integer >= 0"),
    "reconnect_min_delay": ("MQTT_RECONNECT_MIN_DELAY", "must be a number >= 0.01 (seconds)"),
    "reconnect_max_delay": ("MQTT_RECONNECT_MAX_DELAY", "must be a number >= 0.5 (seconds)"),
    "health_name": ("MQTT_HEALTH_NAME", "must be a non-empty string without / + # or NUL"),
    "protocol": ("MQTT_PROTOCOL", "must be '3.1.1' or '5'"),
    "clean_session": ("MQTT_CLEAN_SESSION", "must be a boolean (true/false/1/0/yes/no/on/off)"),
    "session_expiry": ("MQTT_SESSION_EXPIRY", "must be an integer between 0 and 4294967295"),
    "tls_ca_file": ("MQTT_TLS_CA_FILE", "must name an existing file"),
    "tls_cert_file": ("MQTT_TLS_CERT_FILE", "must name an existing file"),
    "tls_key_file": ("MQTT_TLS_KEY_FILE", "must name an existing file"),
    "tls_insecure": ("MQTT_TLS_INSECURE", "must be a boolean (true/false/1/0/yes/no/on/off)"),
    "offline_queue_size": ("MQTT_OFFLINE_QUEUE_SIZE", "must be an integer >= 0"),
    "offline_queue_bytes": ("MQTT_OFFLINE_QUEUE_BYTES", "must be an integer >= 1"),
    "offline_queue_path": ("MQTT_OFFLINE_QUEUE_PATH", "must be a file path (not a folder)"),
    "offline_queue_qos0": (
        "MQTT_OFFLINE_QUEUE_QOS0",
        "must be a boolean (true/false/1/0/yes/no/on/off)",
    ),
    "publish_timeout": ("MQTT_PUBLISH_TIMEOUT", "must be a number > 0 (seconds)"),
    "connect_timeout": ("MQTT_CONNECT_TIMEOUT", "must be a number > 0 (seconds)"),
    "connect_retry": ("MQTT_CONNECT_RETRY", "must be a boolean (true/false/1/0/yes/no/on/off)"),
    "handler_queue_size": ("MQTT_HANDLER_QUEUE_SIZE", "must be an integer >= 1"),
    "handler_queue_bytes": ("MQTT_HANDLER_QUEUE_BYTES", "must be an integer >= 1 (bytes)"),
    "shutdown_timeout": ("MQTT_SHUTDOWN_TIMEOUT", "must be a number >= 0 (seconds)"),
    "otel": ("MQTT_OTEL", "must be a boolean (true/false/1/0/yes/no/on/off)"),
    "ack_after_handler": (
        "MQTT_ACK_AFTER_HANDLER",
        "must be a boolean (true/false/1/0/yes/no/on/off)",
    ),
}

ENV_VARIABLES: Mapping[str, str] = {name: env for name, (env, _) in _FIELDS.items()}
"""Field name -> environment variable read by :meth:`MQTTClientConfig.from_env`."""

_ASCII_SPACE = " \t\r\n\f\v"
_FORBIDDEN_IN_ID = ("/", "+", "#", "\x00")


class MQTTClientConfig(BaseModel):
    """Everything an :class:`~mqttwire.MQTTClient` needs; immutable once built.

    Construct directly (``MQTTClientConfig(url="mqtt://127.0.0.1:1883", client_id="tts")``) or
    from the environment with :meth:`from_env`. Invalid values raise
    :class:`~mqttwire.errors.ConfigError` naming the variable and the rule.

    The first eleven fields are those of the deployed TARS client (``mqtt_url`` is accepted as
    an alias of ``url``). ``health_name`` puts health and the last will on
    ``system/health/{health_name}`` instead of ``system/health/{client_id}``.
    ``connect_retry`` makes the first :meth:`~mqttwire.MQTTClient.connect` keep retrying with
    backoff instead of failing (for services that may start before the broker).
    ``offline_queue_size`` bounds the QoS>=1 messages buffered while the link is down (0 disables
    buffering) and ``offline_queue_bytes`` their payload bytes; ``offline_queue_path`` keeps them
    in a SQLite file that survives a crash (see :mod:`mqttwire.sqlite_outbox`).
    ``session_expiry`` is used with MQTT 5 when ``clean_session`` is false.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    url: str = Field(
        default="mqtt://localhost:1883", validation_alias=AliasChoices("url", "mqtt_url")
    )
    client_id: str
    source_name: str | None = None
    keepalive: int = Field(default=60, ge=1, le=3600)
    enable_health: bool = False
    enable_heartbeat: bool = False
    heartbeat_interval: float = Field(default=5.0, ge=1.0)
    dedupe_ttl: float = Field(default=0.0, ge=0.0)
    dedupe_max_entries: int = Field(default=0, ge=0)
    reconnect_min_delay: float = Field(default=0.5, ge=0.01)
    reconnect_max_delay: float = Field(default=5.0, ge=0.5)

    health_name: str | None = None

    protocol: Literal["3.1.1", "5"] = "3.1.1"
    clean_session: bool = True
    session_expiry: int = Field(default=3600, ge=0, le=0xFFFFFFFF)
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_insecure: bool = False
    offline_queue_size: int = Field(default=1000, ge=0)
    offline_queue_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    offline_queue_path: str | None = None
    offline_queue_qos0: bool = False
    publish_timeout: float = Field(default=10.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    connect_retry: bool = False
    handler_queue_size: int = Field(default=1000, ge=1)
    handler_queue_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    shutdown_timeout: float = Field(default=5.0, ge=0)
    otel: bool = False
    # QoS 1/2 messages are acknowledged once every handler is done with them, not on receipt.
    ack_after_handler: bool = False

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _config_error(exc) from None

    @model_validator(mode="after")
    def _check(self) -> MQTTClientConfig:
        parse_urls(self.url)
        if (
            not self.client_id
            or any(c in self.client_id for c in _FORBIDDEN_IN_ID)
            or text_problem(self.client_id) is not None
        ):
            raise ConfigError("MQTT_CLIENT_ID", _FIELDS["client_id"][1], _shown(self.client_id))
        if self.health_name is not None and (
            not self.health_name
            or any(c in self.health_name for c in _FORBIDDEN_IN_ID)
            or text_problem(self.health_name) is not None
        ):
            raise ConfigError(
                "MQTT_HEALTH_NAME", _FIELDS["health_name"][1], _shown(self.health_name)
            )
        if self.reconnect_min_delay > self.reconnect_max_delay:
            raise ConfigError(
                "MQTT_RECONNECT_MIN_DELAY",
                f"must not exceed MQTT_RECONNECT_MAX_DELAY ({self.reconnect_max_delay:g})",
                self.reconnect_min_delay,
            )
        if self.dedupe_ttl > 0 and self.dedupe_max_entries == 0:
            raise ConfigError(
                "MQTT_DEDUPE_MAX_ENTRIES",
                "must be >= 1 when MQTT_DEDUPE_TTL > 0",
                self.dedupe_max_entries,
            )
        for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise ConfigError(_FIELDS[name][0], _FIELDS[name][1], value)
        path = self.offline_queue_path
        if path is not None and (not path.strip() or path.endswith(("/", os.sep))):
            raise ConfigError("MQTT_OFFLINE_QUEUE_PATH", _FIELDS["offline_queue_path"][1], path)
        if self.tls_insecure and not any(self.uses_tls(p) for p in self.connections):
            raise ConfigError(
                "MQTT_TLS_INSECURE",
                "needs TLS (an mqtts:// URL or MQTT_TLS_CA_FILE); with mqtt:// the link is "
                "plaintext and there is no certificate to skip checking",
                self.tls_insecure,
            )
        if self.tls_key_file is not None and self.tls_cert_file is None:
            raise ConfigError(
                "MQTT_TLS_KEY_FILE", "needs MQTT_TLS_CERT_FILE as well", self.tls_key_file
            )
        return self

    @cached_property
    def connections(self) -> tuple[ConnectionParams, ...]:
        """Every broker of ``url`` in order: one, or several for ``mqtt://a:1883,mqtt://b:1884``.

        The client connects to the first and, when a link is lost or a broker cannot be
        reached, moves on to the next (see :class:`~mqttwire.MQTTClient`).
        """
        return parse_urls(self.url)

    @cached_property
    def connection(self) -> ConnectionParams:
        """The first broker of ``url`` (password never shown in repr/str)."""
        return self.connections[0]

    @property
    def tls(self) -> bool:
        """TLS is used for ``mqtts://`` URLs or when a CA/cert file is configured."""
        return self.uses_tls(self.connection)

    def uses_tls(self, params: ConnectionParams) -> bool:
        """Whether the link to ``params`` (one of :attr:`connections`) uses TLS."""
        return params.tls or self.tls_ca_file is not None or self.tls_cert_file is not None

    @property
    def effective_source(self) -> str:
        """The envelope ``source``: ``source_name`` or else ``client_id``."""
        return self.source_name or self.client_id

    @property
    def effective_health_name(self) -> str:
        """The last level of the health topic: ``health_name`` or else ``client_id``."""
        return self.health_name if self.health_name is not None else self.client_id

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (redact_url(value) if name == "url" and isinstance(value, str) else value)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> MQTTClientConfig:
        """Read the ``MQTT_*`` variables (see :data:`ENV_VARIABLES`); ``overrides`` win.

        Empty variables count as unset. ``MQTT_CLIENT_ID`` is required.
        """
        env = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        for name, variable in ENV_VARIABLES.items():
            raw = env.get(variable)
            # ASCII whitespace only: str.strip() would also eat e.g. U+0085 and hide it.
            value = raw.strip(_ASCII_SPACE) if raw is not None else ""
            if value != "":
                data[name] = value
        data.update(overrides)
        if "client_id" not in data:
            raise ConfigError("MQTT_CLIENT_ID", "is required", None)
        return cls(**data)


def _config_error(exc: ValidationError) -> ConfigError:
    """Turn pydantic's first error into a ConfigError that names the environment variable."""
    error = exc.errors()[0]
    loc = error.get("loc", ())
    field = str(loc[0]) if loc else ""
    if field == "mqtt_url":
        field = "url"
    value = error.get("input")
    if error.get("type") == "missing":
        return ConfigError(_FIELDS.get(field, (field, ""))[0], "is required", None)
    if isinstance(value, ConfigError):  # pragma: no cover - pydantic re-raises these as-is
        return value
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, ConfigError):
        return ctx_error
    if field in _FIELDS:
        variable, rule = _FIELDS[field]
        if field == "url" and isinstance(value, str):
            value = redact_url(value)
        return ConfigError(variable, rule, _as_number(value))
    if error.get("type") == "extra_forbidden":
        return ConfigError(field, "is not a known setting", None)
    return ConfigError(field or "MQTTClientConfig", error.get("msg", "is invalid"), value)


def _shown(value: str) -> str:
    """A rejected value as shown in the error: a 70,000-character id is cut short."""
    return value if len(value) <= 200 else f"{value[:200]}... ({len(value)} characters)"


def _as_number(value: object) -> object:
    """Show ``'0'`` from the environment as ``0`` in messages, like a typed value."""
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                continue
    return value
