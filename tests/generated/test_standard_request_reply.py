"""Request/reply declared with standard AsyncAPI only (tests/golden/rpc_standard_v3): message
``correlationId`` in the payload or in a header, no correlation at all (MQTT 5 correlation
data), and a reply address read from the ``replyTo`` header, on a real Mosquitto with MQTT
3.1.1 and 5."""

from __future__ import annotations

import asyncio
import importlib
import itertools
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig, NeedsMQTT5Error
from mqttwire.testing.broker import MosquittoBroker
from mqttwire.transport import MessageProperties

CASE = Path(__file__).resolve().parents[1] / "golden" / "rpc_standard_v3"
_ids = itertools.count()


@pytest.fixture(scope="module")
def lockers() -> Iterator[ModuleType]:
    sys.path.insert(0, str(CASE / "expected"))
    try:
        yield importlib.import_module("rpc_standard_v3_client")
    finally:
        sys.path.remove(str(CASE / "expected"))


@pytest.fixture
async def make(mqtt_broker: MosquittoBroker, lockers: ModuleType) -> AsyncIterator[Any]:
    made: list[Any] = []

    async def connect(name: str, protocol: str, *, raw: bool = False) -> Any:
        config = MQTTClientConfig(
            url=mqtt_broker.url,
            client_id=f"{name}-{next(_ids)}",
            protocol=protocol,
            shutdown_timeout=2.0,
        )
        client = MQTTClient(config) if raw else lockers.LockersClient(client=MQTTClient(config))
        made.append(client)
        await client.connect()
        return client

    yield connect
    for client in made:
        await client.shutdown()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_payload_correlation_id_drives_request_and_serve(
    lockers: ModuleType, make: Any, protocol: str
) -> None:
    models = lockers.models
    server = await make("locker", protocol)
    caller = await make("app", protocol)

    async def handle(cmd: Any, meta: MessageMeta) -> Any:
        return models.Result(request_id=cmd.request_id, ok=cmd.action == "open")

    await server.serve_lock_command(handle)
    replies = await asyncio.gather(
        caller.request_lock_command(
            models.Command(request_id="r1", action="open"), locker_id="7", timeout=10
        ),
        caller.request_lock_command(
            models.Command(request_id="r2", action="close"), locker_id="7", timeout=10
        ),
    )
    assert [(r.request_id, r.ok) for r in replies] == [("r1", True), ("r2", False)]


async def test_header_correlation_works_on_mqtt5(lockers: ModuleType, make: Any) -> None:
    models = lockers.models
    server = await make("door", "5")
    caller = await make("app", "5")
    seen: list[MessageMeta] = []

    async def handle(req: Any, meta: MessageMeta) -> Any:
        seen.append(meta)
        return models.Opened(door=req.door, ok=True)

    await server.serve_door_open(handle)
    reply = await caller.request_door_open(models.Open(door="front"), timeout=10)
    assert reply.door == "front" and reply.ok
    assert "correlationId" in seen[0].user_properties  # the header of the contract travelled


@pytest.mark.parametrize("request_name", ["request_door_open", "request_ping"])
async def test_mqtt5_only_correlation_is_refused_clearly_on_3_1_1(
    lockers: ModuleType, make: Any, request_name: str
) -> None:
    caller = await make("app", "3.1.1")
    payload = lockers.models.Open(door="x") if "door" in request_name else lockers.models.Ping(n=1)
    with pytest.raises(NeedsMQTT5Error) as info:
        await getattr(caller, request_name)(payload, timeout=5)
    assert "MQTT 3.1.1" in str(info.value)


async def test_no_declared_correlation_uses_mqtt5_correlation_data(
    lockers: ModuleType, make: Any
) -> None:
    models = lockers.models
    server = await make("diag", "5")
    caller = await make("app", "5")

    async def handle(req: Any, meta: MessageMeta) -> Any:
        return models.Pong(n=req.n + 1)

    await server.serve_ping(handle)
    replies = await asyncio.gather(
        *(caller.request_ping(models.Ping(n=n), timeout=10) for n in range(3))
    )
    assert [r.n for r in replies] == [1, 2, 3]


async def test_reply_address_from_the_reply_to_header_is_honoured(
    lockers: ModuleType, make: Any
) -> None:
    """A requester that is not mqttwire names its reply topic only in the ``replyTo`` header
    (no MQTT 5 response topic): ``serve_ping`` answers there, echoing the correlation data."""
    models = lockers.models
    server = await make("diag", "5")
    peer = await make("peer", "5", raw=True)

    async def handle(req: Any, meta: MessageMeta) -> Any:
        return models.Pong(n=req.n * 10)

    await server.serve_ping(handle)
    got: asyncio.Queue[tuple[bytes, MessageMeta]] = asyncio.Queue()

    async def inbox(payload: bytes, meta: MessageMeta) -> None:
        await got.put((payload, meta))

    await peer.subscribe("peer/inbox", inbox, qos=1)
    await peer.publish(
        "diag/ping",
        b'{"n": 4}',
        qos=1,
        properties=MessageProperties(
            correlation_data=b"c-1", user_properties=(("replyTo", "peer/inbox"),)
        ),
    )
    payload, meta = await asyncio.wait_for(got.get(), 10)
    assert orjson.loads(payload) == {"n": 40} and meta.correlation_data == b"c-1"


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_message_headers_travel_as_mqtt5_user_properties(
    lockers: ModuleType, make: Any, protocol: str
) -> None:
    models = lockers.models
    sender = await make("sender", protocol)
    listener = await make("listener", protocol)
    got: asyncio.Queue[tuple[Any, MessageMeta]] = asyncio.Queue()

    async def keep(msg: Any, meta: MessageMeta) -> None:
        await got.put((msg, meta))

    await listener.subscribe_door_open(keep)
    headers = models.OpenHeaders(correlationId="h-1")
    if protocol == "3.1.1":
        with pytest.raises(NeedsMQTT5Error, match="message headers"):
            await sender.open_door(models.Open(door="back"), headers=headers)
        return
    await sender.open_door(models.Open(door="back"), headers=headers)
    msg, meta = await asyncio.wait_for(got.get(), 10)
    assert msg.door == "back" and meta.user_properties["correlationId"] == "h-1"


async def test_errors_of_a_serve_handler_are_logged_under_the_users_function(
    lockers: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    from mqttwire.testing import for_testing, kit_of

    async def locker_server(cmd: Any, meta: MessageMeta) -> Any:
        raise ValueError("jammed")

    async with for_testing(lockers.LockersClient) as server:
        await server.serve_lock_command(locker_server)
        with pytest.raises(ValueError, match="jammed"):
            await kit_of(server).deliver_raw(
                "lockers/7/command", b'{"request_id": "r1", "action": "open"}'
            )
    failures = [r.getMessage() for r in caplog.records if "failed on topic" in r.getMessage()]
    assert failures and "locker_server" in failures[0] and "answer" not in failures[0]
