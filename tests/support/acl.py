"""A Mosquitto that refuses some topics, to test how a service handles refusals.

Mosquitto's plain ``acl_file`` never refuses a SUBSCRIBE (it filters deliveries instead); its
dynamic security plugin refuses both: a denied PUBLISH gets reason code 0x87 (MQTT 5, QoS >= 1)
and a denied SUBSCRIBE 0x87 on MQTT 5 or 0x80 on 3.1.1::

    broker = MosquittoBroker(extra_config=deny_topics_config(tmp_path, ["forbidden/#"]))

The in-memory equivalent is :meth:`mqttwire.testing.memory.MemoryBroker.deny`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DYNSEC_PLUGIN_PATHS", "deny_topics_config", "find_dynsec_plugin"]

DYNSEC_PLUGIN_PATHS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
    "/opt/homebrew/lib/mosquitto_dynamic_security.so",
)


def find_dynsec_plugin() -> Path | None:
    """The dynamic security plugin that comes with Mosquitto 2.x, if installed."""
    return next((Path(p) for p in DYNSEC_PLUGIN_PATHS if Path(p).is_file()), None)


def deny_topics_config(workdir: str | Path, denied: Sequence[str]) -> list[str]:
    """Mosquitto config lines: anonymous clients may do anything except publish to or
    subscribe to topics matching ``denied`` (writes ``dynamic-security.json`` to ``workdir``)."""
    plugin = find_dynsec_plugin()
    if plugin is None:
        raise FileNotFoundError(
            "mosquitto_dynamic_security.so not found (it comes with mosquitto 2.x)"
        )
    acls = [
        {"acltype": kind, "topic": topic, "priority": 10, "allow": False}
        for topic in denied
        for kind in ("publishClientSend", "subscribePattern")
    ]
    path = Path(workdir) / "dynamic-security.json"
    path.write_text(
        json.dumps(
            {
                "defaultACLAccess": {
                    "publishClientSend": True,
                    "publishClientReceive": True,
                    "subscribe": True,
                    "unsubscribe": True,
                },
                "clients": [],
                "groups": [{"groupname": "anonymous", "roles": [{"rolename": "limited"}]}],
                "roles": [{"rolename": "limited", "acls": acls}],
                "anonymousGroup": "anonymous",
            },
            indent=2,
        )
    )
    return [f"plugin {plugin}", f"plugin_opt_config_file {path}"]
