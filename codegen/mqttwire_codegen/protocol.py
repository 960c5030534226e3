"""Is the document about MQTT? Which of its servers are MQTT servers?"""

from __future__ import annotations

from typing import Any

from mqttwire_codegen.adapter import Adapter, SourceServer, major_version
from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location, NotMQTTError
from mqttwire_codegen.ir import Server
from mqttwire_codegen.loader import Resolver
from mqttwire_codegen.validate import MQTT_PROTOCOLS


def _binding_kinds(doc: Any) -> set[str]:
    kinds: set[str] = set()
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            b = node.get("bindings")
            if isinstance(b, dict):
                kinds.update(k for k in b if not k.startswith("x-") and k != "$ref")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return kinds


def mqtt_servers(
    doc: Any, root: Location, servers: list[Server] | tuple[SourceServer, ...]
) -> tuple[set[str], list[Diagnostic]]:
    """Names of MQTT servers (and a warning when nothing says which protocol); raises
    NotMQTTError for a document about another protocol."""
    found = {s.name for s in servers if s.protocol in MQTT_PROTOCOLS}
    kinds = _binding_kinds(doc)
    if found or "mqtt" in kinds or "mqtt5" in kinds:
        return found, []
    protocols = sorted({s.protocol for s in servers} | kinds)
    if protocols:
        raise NotMQTTError(
            [
                Diagnostic(
                    root.child("servers") if servers else root,
                    "not-mqtt",
                    f"this AsyncAPI document describes a {', '.join(protocols)} API, not MQTT: "
                    "no server with protocol mqtt/mqtts and no mqtt bindings",
                    hint="mqttwire generates MQTT clients only",
                )
            ]
        )
    warning = Diagnostic(
        root,
        "protocol-unspecified",
        "no servers and no bindings: channels are treated as MQTT topics",
        "warning",
    )
    return found, [warning]


def precheck_protocol(resolver: Resolver) -> None:
    """Reject documents about another protocol before reporting their other problems."""
    if major_version(resolver.root) == 0:
        return
    try:
        servers = Adapter(resolver).servers()
    except (ContractError, AttributeError, TypeError):
        return  # malformed: the validator reports it
    if servers:
        mqtt_servers(resolver.root, resolver.root_location, servers)
