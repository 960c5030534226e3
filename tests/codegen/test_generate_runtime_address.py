"""AsyncAPI 3 channels without ``address`` (the spec: unknown, given at runtime) get methods
that take the topic: ``publish_*(payload, *, topic)``, ``subscribe_*(handler, *,
topic_filter, share_group=None)``, ``clear_*(*, topic)`` when retained, no ``on_*`` decorator.
The contract (tests/codegen/data/runtime_address_v3.yaml) generates, imports and passes
``mypy --strict`` together with code that uses it, where a call without the topic is a type
error. The wire behaviour is in tests/generated/test_runtime_address.py."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from codegen_support import mypy_strict

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.pipeline import generate_package
from mqttwire_codegen.writer import write_package

CONTRACT = Path(__file__).resolve().parent / "data" / "runtime_address_v3.yaml"
PACKAGE = "runtime_address_fleet"

USAGE = f'''
"""Code a service author writes against the generated client (type-checked, not run)."""

from mqttwire import MessageMeta
from mqttwire.typed import Subscription
from {PACKAGE} import FleetClient
from {PACKAGE}.models import DeviceConfig, Reading, Status


async def handle(reading: Reading, meta: MessageMeta) -> None:
    print(reading.value, meta.topic)


async def use(fleet: FleetClient) -> Subscription:
    await fleet.send_reading(Reading(sensor="t", value=1.0), topic="site/a/readings", qos=2)
    await fleet.send_config(DeviceConfig(interval=5), topic="site/a/config")
    await fleet.clear_config(topic="site/a/config")
    await fleet.send_status(Status(online=True), device="a")
    await fleet.send_reading(Reading(sensor="t", value=1.0))  # type: ignore[call-arg]
    return await fleet.receive_reading(handle, topic_filter="site/+/readings", share_group="g")
'''


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runtime_address")
    result = generate_package(CONTRACT, PACKAGE)
    write_package(result.files, out / PACKAGE)
    return out


@pytest.fixture(scope="module")
def package(generated: Path) -> Iterator[ModuleType]:
    sys.path.insert(0, str(generated))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(generated))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_channels_without_address_get_an_info_note_not_a_warning() -> None:
    contract, diagnostics = load_contract(CONTRACT)
    notes = [d for d in diagnostics if d.rule == "channel-without-address"]
    assert [(d.location.pointer, d.severity) for d in notes] == [
        ("/channels/readings", "info"),
        ("/channels/config", "info"),
    ]
    assert all("take the topic at runtime" in d.message for d in notes)
    assert [ch.id for ch in contract.client_channels] == [
        "readings",
        "config",
        "status",
        "commands",
    ]
    # a request whose reply channel has no address keeps its diagnostic (no request_ method)
    (skipped,) = [d for d in diagnostics if d.rule == "request-not-generated"]
    assert "'readings' has no address" in skipped.message
    assert contract.request_methods == ()


def test_methods_take_the_topic_at_runtime(package: ModuleType) -> None:
    client = package.FleetClient
    send = inspect.signature(client.send_reading).parameters
    assert send["topic"].kind is inspect.Parameter.KEYWORD_ONLY
    assert send["topic"].default is inspect.Parameter.empty
    receive = inspect.signature(client.receive_reading).parameters
    assert receive["topic_filter"].default is inspect.Parameter.empty
    assert receive["share_group"].default is None
    clear = inspect.signature(client.clear_config).parameters
    assert list(clear) == ["self", "topic"]
    assert not hasattr(client, "on_readings") and not hasattr(client, "on_config")
    assert not hasattr(client, "clear_readings")  # not retained
    assert "given at runtime" in (client.send_reading.__doc__ or "")
    assert "given at runtime" in (client.receive_reading.__doc__ or "")
    channels = package.channels
    assert channels.CH_READINGS.topic is None and channels.CH_CONFIG.publish_retain
    assert channels.CH_STATUS.topic.address == "fleet/{device}/status"
    assert not hasattr(channels, "TOPIC_READINGS")
    assert channels.TOPIC_STATUS == "fleet/{device}/status"


def test_generated_package_and_its_use_pass_mypy_strict(generated: Path, tmp_path: Path) -> None:
    usage = generated / "runtime_address_usage"
    usage.mkdir(exist_ok=True)
    (usage / "__init__.py").write_text(USAGE)
    result = mypy_strict(generated, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
