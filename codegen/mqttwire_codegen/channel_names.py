"""Python names of a contract's channels: suffixes checked, operationIds as method names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from mqttwire_codegen.diagnostics import Diagnostic, Location
from mqttwire_codegen.ir import Channel
from mqttwire_codegen.naming import is_identifier

# attributes of the generated client's base class (mqttwire.typed.TypedClient)
CLIENT_API = frozenset(
    {
        "CHANNELS", "client", "codec", "connect", "disconnect", "for_testing", "from_env",
        "mqtt5", "ordered", "requests_in_flight", "response_topic", "run_until_signal",
        "shutdown", "stats", "subscribing", "take_errors", "testing", "wait_subscribed",
    }
)  # fmt: skip


def check_names(channels: Iterable[Channel], root: Location) -> list[Diagnostic]:
    """Errors for channel method suffixes that are not identifiers or collide."""
    errors: list[Diagnostic] = []
    seen: dict[str, Channel] = {}
    for ch in channels:
        if not is_identifier(ch.py_name):
            errors.append(
                Diagnostic(
                    ch.location or root,
                    "name-collision",
                    f"channel {ch.id!r}: {ch.py_name!r} is not a Python identifier",
                    hint="add `x-python-name` to the channel",
                )
            )
        if ch.py_name in seen:
            other = seen[ch.py_name]
            errors.append(
                Diagnostic(
                    ch.location or root,
                    "name-collision",
                    f"channels {other.id!r} and {ch.id!r} both map to the method suffix {ch.py_name!r}",
                    hint=f"add `x-python-name: <unique_name>` to channel {ch.id!r}",
                )
            )
        seen[ch.py_name] = ch
    return errors


def method_names(channels: list[Channel], root: Location) -> tuple[list[Channel], list[Diagnostic]]:
    """operationIds name the publish/subscribe methods; one that is not an identifier or
    clashes with another generated name or the client's own API keeps the channel-based
    name, with a warning."""
    fixed = {
        f"{prefix}{ch.py_name}"
        for ch in channels
        for prefix in ("on_", "request_", "serve_", "stream_", "clear_")
    }
    taken: dict[str, str] = {}
    warnings: list[Diagnostic] = []
    out: list[Channel] = []
    for ch in channels:
        names: dict[str, str] = {}
        for attr, default in (
            ("publish_method", f"publish_{ch.py_name}"),
            ("subscribe_method", f"subscribe_{ch.py_name}"),
        ):
            name = getattr(ch, attr) or default
            own = {f"{prefix}{ch.py_name}" for prefix in ("on_", "request_", "serve_")}
            if name in own:
                name = default  # ``onThermostatSet``: the decorator's own name, no surprise
            if name != default and (
                not is_identifier(name)
                or name in fixed
                or name in taken
                or name in CLIENT_API
                or name.startswith("_")
            ):
                warnings.append(
                    Diagnostic(
                        ch.location or root,
                        "method-name-fallback",
                        f"channel {ch.id!r}: the operationId would name a method {name!r}, "
                        f"which clashes or is not usable; the method is {default!r}",
                        "warning",
                    )
                )
                name = default
            taken[name] = ch.id
            names[attr] = name
        out.append(
            replace(
                ch,
                publish_method=names["publish_method"],
                subscribe_method=names["subscribe_method"],
            )
        )
    return out, warnings
