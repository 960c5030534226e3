"""Parsing of ``MQTT_URL`` into connection parameters that never reveal the password."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from mqttwire.errors import ConfigError

__all__ = ["ConnectionParams", "redact_url"]

_PLAIN_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True, "tls": True}
_DEFAULT_PORTS = {False: 1883, True: 8883}


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for logs and errors)."""
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
