"""docs/guides/examples/observability.py runs as the guide tells a reader to (MQTT 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mqttwire.testing.broker import MosquittoBroker

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "guides" / "examples" / "observability.py"


@pytest.mark.integration
def test_observability_example(mqtt_broker: MosquittoBroker) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), mqtt_broker.url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "spans: 4, one trace: True",
        "send stt/final",
        "  process stt/final",
        "    send tts/say",
        "      process tts/say",
        "sent: stt/final=1 tts/say=1",
    ]
    assert "observability.py" in (REPO / "docs" / "guides" / "observability.md").read_text()
