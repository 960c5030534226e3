"""Parsing of ``MQTT_URL`` into connection parameters that never reveal the password."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from mqttwire.errors import ConfigError
from mqttwire.mqtt_text import MAX_STRING_BYTES, text_problem

__all__ = ["ConnectionParams", "parse_urls", "redact_url", "split_urls"]

_PLAIN_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True, "tls": True}
_DEFAULT_PORTS = {False: 1883, True: 8883}
# A comma that starts the next URL of a list (``mqtt://a:1883,mqtt://b:1884``). Only a comma
# followed by ``scheme://`` separates, so a comma inside a password stays part of it.
_URL_SEPARATOR = re.compile(r"\s*,\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def split_urls(value: str) -> list[str]:
    """The URLs of a comma-separated ``MQTT_URL`` list (one element for a single URL)."""
    return [part.strip() for part in _URL_SEPARATOR.split(value.strip())]


def parse_urls(value: str, *, variable: str = "MQTT_URL") -> tuple[ConnectionParams, ...]:
    """Parse one URL or a comma-separated list of them (brokers of a cluster, tried in order).

    Every URL is checked like :meth:`ConnectionParams.from_url`; errors name ``variable`` and
    show the list with passwords redacted. The same broker twice is an error.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(variable, "must look like mqtt://[user:password@]host[:port]", value)
    parts = split_urls(value)
    if any(not part for part in parts) or re.search(r"(^\s*,|,\s*,|,\s*$)", value):
        raise ConfigError(
            variable, "must be URLs separated by single commas (no empty entry)", redact_url(value)
        )
    params = tuple(ConnectionParams.from_url(part, variable=variable) for part in parts)
    seen: set[tuple[str, int]] = set()
    for item in params:
        key = (item.host.lower(), item.port)
        if key in seen:
            raise ConfigError(
                variable, f"lists {item.host}:{item.port} more than once", redact_url(value)
            )
        seen.add(key)
    return params


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for logs and errors).

    A comma-separated list of URLs is redacted URL by URL.
    """
    parts = split_urls(url) if "," in url else [url]
    if len(parts) > 1:
        return ",".join(_redact_one(part) for part in parts)
    return _redact_one(url)


def _redact_one(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***" if "@" in url else url
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{hostpart}"


@dataclass(frozen=True, slots=True)
class ConnectionParams:
    """Where and how to reach the broker, parsed from ``MQTT_URL``.

    ``password`` is excluded from ``repr``/``str``; read the attribute when you really need it.
    """

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    scheme: str = "mqtt"

    @property
    def hostname(self) -> str:
        """Alias of ``host`` (the field name of the original TARS model)."""
        return self.host

    @classmethod
    def from_url(cls, url: str, *, variable: str = "MQTT_URL") -> ConnectionParams:
        """Parse ``mqtt[s]://[user[:password]@]host[:port]``; user and password are percent-decoded.

        IPv6 literals go in brackets (``mqtt://[::1]:1883``). Errors name ``variable`` and
        show the URL with its password redacted.
        """
        shown = redact_url(url)
        if not isinstance(url, str) or "://" not in url:
            raise ConfigError(variable, "must look like mqtt://[user:password@]host[:port]", shown)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConfigError(variable, f"is not a valid URL ({_scrub(exc, url)})", shown) from None
        scheme = parts.scheme.lower()
        if scheme not in _PLAIN_SCHEMES:
            raise ConfigError(
                variable, f"scheme must be one of {', '.join(sorted(_PLAIN_SCHEMES))}", shown
            )
        host = parts.hostname
        if not host:
            raise ConfigError(variable, "must name a host", shown)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError(variable, "must not have a path, query or fragment", shown)
        tls = _PLAIN_SCHEMES[scheme]
        if port is None:
            port = _DEFAULT_PORTS[tls]
        if not 1 <= port <= 65535:
            raise ConfigError(variable, "port must be between 1 and 65535", shown)
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        if username is not None and (problem := text_problem(username)) is not None:
            raise ConfigError(variable, f"user name {problem}", shown)
        if password is not None and len(password.encode()) > MAX_STRING_BYTES:
            raise ConfigError(variable, f"password longer than {MAX_STRING_BYTES} bytes", shown)
        return cls(host, port, username or None, password, tls, scheme)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        auth = ""
        if self.username is not None:
            auth = self.username + (":***" if self.password is not None else "") + "@"
        return f"{self.scheme}://{auth}{host}:{self.port}"


def _scrub(exc: Exception, url: str) -> str:
    """urllib's message may quote the netloc; never let the password through."""
    text = str(exc)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        text = text.replace(password, "***")
    return text
