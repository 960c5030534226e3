"""The contract as the wire really is (issue 14).

- every state message the deployed ESP32 firmware sends on movement/state is accepted, by the
  contract's JSON Schemas and by the generated client;
- the last will the runtime registers is the one the contract describes;
- every publish path whose deployed QoS/retain differs from the contract is listed in
  docs/migration.md (so "what changes on the wire" is exact).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from mqttwire import MessageMeta
from mqttwire.health import WILL_ERROR, WILL_EVENT, encode_health
from mqttwire.testing import for_testing, kit_of
from tars_mqtt import TarsClient
from tars_mqtt.models import MovementControllerState, MovementState

from .conftest import REPO, load_json

MIGRATION = REPO / "docs" / "migration.md"


def _firmware_state_samples(interface: Path) -> list[Any]:
    """Samples the firmware's publish_state produces (kept as MovementState *invalid* samples:
    the deployed python model rejects them, the firmware sends them anyway)."""
    index = load_json(interface / "examples" / "INDEX.json")["models"]["MovementState"]
    samples: list[Any] = []
    for kind in ("valid", "invalid"):
        data = load_json(interface / "examples" / f"MovementState.{kind}.json")
        samples += [
            data[entry["i"]]
            for entry in index.get(kind, [])
            if entry["source"].startswith("observed:firmware")
        ]
    return samples


def _channel_stems(contract: dict[str, Any], channel: str) -> list[str]:
    messages = contract["components"]["messages"]
    stems = []
    for ref in contract["channels"][channel]["messages"].values():
        message = messages[ref["$ref"].rsplit("/", 1)[1]]
        stems.append(message["payload"]["$ref"].rsplit("/", 1)[1].removesuffix(".json"))
    return stems


def test_there_are_firmware_samples(interface: Path) -> None:
    assert len(_firmware_state_samples(interface)) >= 2


def test_contract_schemas_accept_every_firmware_state_message(
    interface: Path, contract: dict[str, Any], validator_for: Any
) -> None:
    stems = _channel_stems(contract, "movement_state")
    assert stems == ["MovementState", "MovementControllerState"]
    for sample in _firmware_state_samples(interface):
        assert not validator_for("MovementState").is_valid(sample)  # the old model rejects it
        assert validator_for("MovementControllerState").is_valid(sample), sample


async def test_generated_client_delivers_every_firmware_state_message(interface: Path) -> None:
    samples = _firmware_state_samples(interface)
    got: list[MovementState | MovementControllerState] = []

    async with for_testing(TarsClient) as tars:

        @tars.on_movement_state
        async def on_state(state: MovementState | MovementControllerState, _: MessageMeta) -> None:
            got.append(state)

        await tars.wait_subscribed()
        for sample in samples:
            await kit_of(tars).deliver_raw("movement/state", orjson.dumps(sample))
    assert tars.stats.invalid_total == 0
    assert len(got) == len(samples)
    for state, sample in zip(got, samples, strict=True):
        assert isinstance(state, MovementControllerState)
        assert state.model_dump(mode="json") == sample  # extra fields kept, nothing added


async def test_movement_service_state_still_decodes_as_movement_state() -> None:
    got: list[MovementState | MovementControllerState] = []
    async with for_testing(TarsClient) as tars:

        @tars.on_movement_state
        async def on_state(state: MovementState | MovementControllerState, _: MessageMeta) -> None:
            got.append(state)

        await tars.wait_subscribed()
        await kit_of(tars).deliver_raw("movement/state", b'{"id": "cmd-1", "event": "started"}')
    assert [type(s) for s in got] == [MovementState]


def test_last_will_in_contract_is_what_the_runtime_registers(contract: dict[str, Any]) -> None:
    will = contract["servers"]["mosquitto"]["bindings"]["mqtt"]["lastWill"]
    assert (will["qos"], will["retain"]) == (1, True)
    assert will["topic"] == "system/health/{client_id}"
    described = orjson.loads(will["message"])
    runtime = orjson.loads(encode_health(False, source="x", event=WILL_EVENT, error=WILL_ERROR))
    assert described["type"] == runtime["type"] == "health.status"
    wire = {k: v for k, v in runtime["data"].items() if k not in ("message_id", "timestamp")}
    assert described["data"] == wire == {"ok": False, "event": "offline", "err": WILL_ERROR}


def _channel_for(contract: dict[str, Any], topic: str) -> str | None:
    for cid, channel in contract["channels"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(channel["address"])) + "$"
        if re.match(pattern, topic):
            return str(cid)
    return None


def _deployed_differences(
    catalog: dict[str, Any], contract: dict[str, Any]
) -> list[tuple[str, str, int, int]]:
    """(topic, service, deployed QoS, contract QoS) of working publishers the contract changes."""
    out = []
    for record in catalog["topics"]:
        cid = _channel_for(contract, record["topic"])
        if cid is None:
            continue
        binding = contract["operations"][f"publish_{cid}"]["bindings"]["mqtt"]
        for publisher in record["publishers"]:
            if publisher.get("effective") is False:
                continue  # a publish path that cannot work today puts nothing on the wire
            assert publisher["retain"] == binding["retain"], (record["topic"], publisher)
            if publisher["qos"] != binding["qos"]:
                out.append(
                    (record["topic"], publisher["service"], publisher["qos"], binding["qos"])
                )
    return out


def test_migration_lists_exactly_the_publishes_whose_qos_changes(
    catalog: dict[str, Any], contract: dict[str, Any]
) -> None:
    text = MIGRATION.read_text(encoding="utf-8")
    section = text.split("## What changes on the wire", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    listed = set()
    for row in rows:
        cells = [c.strip().strip("`") for c in row.strip("|").split("|")]
        listed.add((cells[0], cells[1], int(cells[2]), int(cells[3])))
    differences = set(_deployed_differences(catalog, contract))
    assert differences, "the catalog no longer shows any QoS difference: update migration.md"
    assert listed == differences


@pytest.mark.parametrize("channel", ["tts_status", "tts_say", "llm_response"])
async def test_qos_zero_per_call_reproduces_the_deployed_wire(channel: str) -> None:
    from tars_mqtt.models import LLMResponse, TtsSay, TtsStatus

    payloads = {
        "tts_status": TtsStatus(event="speaking_start", text="a"),
        "tts_say": TtsSay(text="a"),
        "llm_response": LLMResponse(id="r", reply="a"),
    }
    async with for_testing(TarsClient) as tars:
        publish = getattr(tars, f"publish_{channel}")
        await publish(payloads[channel], qos=0)
        (sent,) = kit_of(tars).published(channel)
    assert (sent.meta.qos, sent.meta.retain) == (0, False)
