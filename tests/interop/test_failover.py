"""Failover across brokers listed in MQTT_URL.

* Two independent Mosquittos: a service process listing both fails over when the first dies,
  resubscribes, announces ``reconnected`` and registers its will with the second broker.
* A three-node NATS cluster (JetStream, replicated MQTT sessions): the node both clients are on
  is SIGKILLed while QoS 1 traffic flows; every message reaches the handler exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
from failover_scenario import run_failover_round
from interop_support import Inbox, Matrix
from support.brokers import NatsCluster, find_nats_server

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker, find_mosquitto

pytestmark = [pytest.mark.integration]

SERVICE = textwrap.dedent(
    """
    import asyncio, sys
    from mqttwire import ClientState, MQTTClient, MQTTClientConfig

    async def main() -> None:
        config = MQTTClientConfig(url=sys.argv[1], client_id="svc", enable_health=True,
                                  protocol=sys.argv[2], reconnect_min_delay=0.1,
                                  reconnect_max_delay=0.5, connect_timeout=2)
        client = MQTTClient(config)

        def on_state(state: ClientState) -> None:
            if state is ClientState.CONNECTED:
                print("connected", client.broker.port, flush=True)

        client.add_state_listener(on_state)

        async def echo(payload: bytes) -> None:
            await client.publish("fo/echo", b"%d:%s" % (client.broker.port, payload), qos=1)

        await client.subscribe("fo/cmd", echo, qos=1)
        await client.connect()
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@pytest.fixture
def two_mosquittos() -> Iterator[tuple[MosquittoBroker, MosquittoBroker]]:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    first, second = MosquittoBroker(), MosquittoBroker()
    first.start()
    second.start()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


@pytest.fixture
async def monitors() -> AsyncIterator[list[MQTTClient]]:
    made: list[MQTTClient] = []
    yield made
    for client in made:
        await client.shutdown()


async def read_line(process: asyncio.subprocess.Process, within: float = 20.0) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), within)
    if not line:
        stderr = await process.stderr.read() if process.stderr else b""
        pytest.fail(f"service ended: {stderr.decode(errors='replace')[-2000:]}")
    return line.decode().strip()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
@pytest.mark.matrix("failover", "Failover between the brokers of MQTT_URL (will, health follow)")
@pytest.mark.timeout(90)
async def test_service_fails_over_to_the_next_broker_with_subscriptions_health_and_will(
    two_mosquittos: tuple[MosquittoBroker, MosquittoBroker],
    monitors: list[MQTTClient],
    protocol: str,
    matrix: Matrix,
    request: pytest.FixtureRequest,
) -> None:
    request.node.user_properties.append(("matrix_broker", f"mosquitto-{protocol}"))
    first, second = two_mosquittos
    monitor = MQTTClient(
        MQTTClientConfig(url=second.url, client_id="monitor", reconnect_min_delay=0.1)
    )
    monitors.append(monitor)
    health, echoes = Inbox(), Inbox()
    await monitor.subscribe("system/health/svc", health.handler, qos=1)
    await monitor.subscribe("fo/echo", echoes.handler, qos=1)
    await monitor.connect()

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVICE,
        f"{first.url},{second.url}",
        protocol,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert await read_line(process) == f"connected {first.port}"
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        await asyncio.to_thread(first.kill)
        assert await read_line(process) == f"connected {second.port}"
        failover_s = loop.time() - killed_at

        # health follows: "reconnected", retained on the broker the service is on now
        (payload,) = await health.wait_for(1)
        data = orjson.loads(payload)["data"]
        assert data["ok"] is True and data["event"] == "reconnected"
        late = MQTTClient(MQTTClientConfig(url=second.url, client_id="late-monitor"))
        monitors.append(late)
        retained = Inbox()
        await late.subscribe("system/health/svc", retained.handler, qos=1)
        await late.connect()
        (kept,) = await retained.wait_for(1)
        assert orjson.loads(kept)["data"]["event"] == "reconnected"
        assert retained.items[0][1].retain is True

        # subscriptions follow: the service got its filter back on the second broker
        await monitor.publish("fo/cmd", b"ping", qos=1)
        assert await echoes.wait_for(1) == [f"{second.port}:ping".encode()]

        # the will follows: registered with the second broker, fired when the process dies
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)
        payloads = await health.wait_for(2, within=15)
        will = orjson.loads(payloads[1])["data"]
        assert will["ok"] is False and will["err"] == "unexpected disconnect"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    matrix.note(
        f"SIGKILL of the first broker -> CONNECTED on the second in {failover_s * 1000:.0f} ms; "
        "resubscribed, health 'reconnected' retained there, will fired there"
    )


@pytest.fixture(scope="module")
def nats_cluster() -> Iterator[NatsCluster]:
    if find_nats_server() is None:
        pytest.skip("nats-server is not installed")
    cluster = NatsCluster(3)
    try:
        cluster.start()
    except (RuntimeError, TimeoutError) as exc:
        log = cluster.log()
        cluster.close()
        print(log[-2000:], file=sys.stderr)  # captured; shown with -rA or -s, not in the summary
        pytest.skip(f"a 3-node NATS cluster could not start here: {exc}")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.mark.matrix("cluster", "Cluster node killed under QoS 1 load: exactly once at the handler")
@pytest.mark.timeout(180)
async def test_nats_cluster_node_killed_under_qos1_load_exactly_once_at_handler(
    nats_cluster: NatsCluster, matrix: Matrix, request: pytest.FixtureRequest
) -> None:
    request.node.user_properties.append(("matrix_broker", "nats"))
    result = await run_failover_round(
        nats_cluster, victim_index=0, messages=1500, rate=300.0, settle_timeout=90.0
    )
    summary = orjson.dumps(result.as_dict()).decode()
    assert result.sent_before_kill > 0, summary  # traffic was flowing when the node died
    assert result.subscriber_failover_s is not None, summary  # ...and both clients failed over
    assert result.publisher_failover_s is not None, summary
    victim_port = nats_cluster.nodes[0].port
    assert not result.subscriber_broker.endswith(f":{victim_port}"), summary
    assert result.lost == 0, summary
    assert result.handler_duplicates == 0, summary
    matrix.note(
        f"3 nodes, R3 JetStream; kill -> subscriber CONNECTED elsewhere in "
        f"{result.subscriber_failover_s:.3f}s (victim led: {', '.join(result.victim_roles) or 'no stream'}); "
        f"1500 QoS 1 messages, 0 lost, 0 repeated at the "
        f"handler ({result.dedupe_dropped} redeliveries dropped by dedupe, "
        f"{result.publish_retries} publishes resent)"
    )
