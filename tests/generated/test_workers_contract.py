"""MQTT 5 and share groups declared in a contract (tests/golden/workers_v3): the generated
package from the golden output, in memory and on a real Mosquitto."""

from __future__ import annotations

import asyncio
import importlib
import itertools
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig
from mqttwire.testing import for_testing, kit_of
from mqttwire.testing.broker import MosquittoBroker

EXPECTED = Path(__file__).resolve().parents[1] / "golden" / "workers_v3" / "expected"
_ids = itertools.count()


@pytest.fixture(scope="module")
def workers() -> Iterator[ModuleType]:
    """The golden ``workers_v3_client`` package (generated from workers_v3/contract.yaml)."""
    sys.path.insert(0, str(EXPECTED))
    try:
        yield importlib.import_module("workers_v3_client")
    finally:
        sys.path.remove(str(EXPECTED))


@pytest.fixture
async def on_broker(
    workers: ModuleType, mqtt_broker: MosquittoBroker
) -> AsyncIterator[Callable[..., Any]]:
    made: list[Any] = []

    def make(name: str, protocol: str = "5") -> Any:
        config = MQTTClientConfig(
            url=mqtt_broker.url,
            client_id=f"{name}-{next(_ids)}",
            protocol=protocol,
            shutdown_timeout=2.0,
        )
        client = workers.WorkersClient(client=MQTTClient(config))
        made.append(client)
        return client

    yield make
    for client in made:
        await client.shutdown()


async def test_expiry_content_type_and_share_groups_come_from_the_contract(
    workers: ModuleType,
) -> None:
    models = workers.models
    async with for_testing(workers.WorkersClient, protocol="5") as client:

        async def nothing(msg: Any, meta: MessageMeta) -> None:
            return None

        await client.work_on_jobs(nothing)
        await client.read_notes(nothing)
        await client.read_notes(nothing, share_group="editors")
        assert set(kit_of(client).broker.subscriptions("test-client")) == {
            "$share/workers/jobs/+",
            "$share/scribes/notes",
            "$share/editors/notes",
        }
        await client.submit_job(models.Job(job_id="1"), kind="resize")
        await client.write_note(models.Note(text="n"))
        job, note = kit_of(client).published()
        assert job.meta.message_expiry_interval == 60
        assert job.meta.content_type == "application/json"
        assert note.meta.message_expiry_interval is None
        assert note.meta.content_type == "application/vnd.workers.note+json"
        assert [m.properties.payload_format_indicator for m in kit_of(client).broker.log] == [1, 1]


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_two_workers_split_the_contracts_shared_stream(
    workers: ModuleType, on_broker: Callable[..., Any], protocol: str
) -> None:
    models = workers.models
    got: dict[str, list[int]] = {"a": [], "b": []}
    markers: set[str] = set()
    changed = asyncio.Event()

    def job_handler(name: str) -> Callable[[Any, MessageMeta], Any]:
        async def handle(job: Any, meta: MessageMeta) -> None:
            got[name].append(int(job.job_id))
            changed.set()

        return handle

    def marker_handler(name: str) -> Callable[[Any, MessageMeta], Any]:
        async def handle(result: Any, meta: MessageMeta) -> None:
            markers.add(name)
            changed.set()

        return handle

    a, b, producer = on_broker("a", protocol), on_broker("b", protocol), on_broker("p", protocol)
    for client, name in ((a, "a"), (b, "b")):
        await client.connect()
        await client.work_on_jobs(job_handler(name))  # $share/workers/... from the contract
        await client.subscribe_resize_result(marker_handler(name))  # not shared: both get it
    await producer.connect()
    for i in range(40):
        await producer.submit_job(models.Job(job_id=str(i)), kind=("resize", "crop")[i % 2])
    # Sent after the jobs on the same connection: whoever sees it was sent all its jobs.
    await producer.send_result(models.ResizeResult(request_id="end", ok=True))

    async def all_in() -> None:
        while markers != {"a", "b"} or len(got["a"]) + len(got["b"]) < 40:
            changed.clear()
            await changed.wait()

    await asyncio.wait_for(all_in(), 10)
    assert sorted(got["a"] + got["b"]) == list(range(40))  # none lost, none doubled
    assert got["a"] and got["b"]


@pytest.mark.integration
async def test_message_expiry_reaches_mqtt5_subscribers(
    workers: ModuleType, on_broker: Callable[..., Any]
) -> None:
    sub, pub = on_broker("sub"), on_broker("pub")
    metas: asyncio.Queue[MessageMeta] = asyncio.Queue()

    async def handle(job: Any, meta: MessageMeta) -> None:
        await metas.put(meta)

    await sub.connect()
    await sub.work_on_jobs(handle, share_group="solo")
    await pub.connect()
    await pub.submit_job(workers.models.Job(job_id="e"), kind="x")
    meta = await asyncio.wait_for(metas.get(), 5)
    assert meta.message_expiry_interval is not None and 55 <= meta.message_expiry_interval <= 60
    assert meta.content_type == "application/json"


@pytest.mark.integration
async def test_responders_share_the_contracts_group(
    workers: ModuleType, on_broker: Callable[..., Any]
) -> None:
    models = workers.models
    served: dict[str, int] = {"a": 0, "b": 0}

    def resizer(name: str) -> Callable[[Any, MessageMeta], Any]:
        async def resize(request: Any, meta: MessageMeta) -> Any:
            served[name] += 1
            return models.ResizeResult(request_id=request.request_id, ok=True)

        return resize

    for name in served:
        responder = on_broker(name)
        await responder.connect()
        await responder.serve_resize_request(resizer(name))
        assert responder.client.subscriptions[-1].topic_filter == "$share/resizers/images/resize"
    caller = on_broker("caller")
    await caller.connect()
    results = await asyncio.gather(
        *(
            caller.request_resize_request(models.ResizeRequest(request_id=str(i), width=10))
            for i in range(30)
        )
    )
    assert [r.request_id for r in results] == [str(i) for i in range(30)]
    assert served["a"] + served["b"] == 30 and served["a"] and served["b"]
