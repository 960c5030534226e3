"""The public API is pinned: ``mqttwire.__all__``, ``mqttwire.testing.__all__``, and the public
methods with their signatures of ``MQTTClient`` and of the generated ``TarsClient``
(tests/structure/public_api.json).

A change shows as a diff here; when it is intended, ``python tools/public_api.py --write``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("public_api", REPO / "tools" / "public_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_public_api_matches_the_pin() -> None:
    changes = _tool().diff()
    assert not changes, (
        "the public API changed; if intended, run `python tools/public_api.py --write`\n" + changes
    )


def test_the_pin_covers_what_it_claims() -> None:
    pinned = json.loads((REPO / "tests" / "structure" / "public_api.json").read_text())
    assert "MQTTClient" in pinned["mqttwire.__all__"]
    assert "MemoryBroker" in pinned["mqttwire.testing.__all__"]
    client = pinned["mqttwire.MQTTClient"]
    assert client["publish_event"].startswith("(self, topic: str, event_type: str, data: ")
    assert {"connect", "disconnect", "shutdown", "publish", "subscribe", "publish_health"} <= set(
        client
    )
    assert client["connected"] == client["state"] == "<property>"
    methods = pinned["tars_mqtt.TarsClient"]
    assert methods["publish_tts_say"].startswith("(self, ")
    assert {"publish_tts_say", "subscribe_stt_final", "request_llm_request"} <= set(methods)
