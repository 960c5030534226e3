"""One failover round on a NATS cluster: kill the node both clients are connected to while QoS 1
traffic flows, and count what reached the handler.

Used by ``tests/interop/test_failover.py`` (asserts zero loss, exactly once at the handler) and by
``benchmarks/bench_failover.py`` (several rounds, failover time p50 as JSON).

The subscriber has a persistent session (``clean_session=False``; NATS keeps it in JetStream,
replicated on every node) and dedupe on; both clients list every node in ``MQTT_URL`` with the
victim first, so both are on the victim when it dies. The publisher sends pre-encoded envelopes
and, when a publish is not acknowledged in time, sends the *same bytes* again (its offline queue
does that by itself when the link drops), so a retry can only make a duplicate, which the
subscriber's dedupe drops by envelope id.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from support.brokers import NatsCluster

from mqttwire import ClientState, MessageMeta, MQTTClient, MQTTClientConfig, PublishTimeoutError
from mqttwire.envelope import encode_envelope

__all__ = ["FailoverResult", "jetstream_leaders", "run_failover_round"]

_LEADER_LINE = re.compile(
    r"\] (?P<ts>\S+ \S+) \[INF\] (?:(?P<meta>Self is new JetStream cluster metadata leader)"
    r"|JetStream cluster new stream leader for '\$G > (?P<stream>[^']+)')"
)


def jetstream_leaders(cluster: NatsCluster) -> dict[str, str]:
    """Which node leads JetStream's metadata and each MQTT stream now (from the node logs)."""
    latest: dict[str, tuple[str, str]] = {}
    for node in cluster.nodes:
        if not node.log_path.is_file():
            continue
        for match in _LEADER_LINE.finditer(node.log()):
            role = "metadata" if match["meta"] else match["stream"]
            if role not in latest or match["ts"] > latest[role][0]:
                latest[role] = (match["ts"], node.server_name)
    return {role: name for role, (_ts, name) in sorted(latest.items())}


@dataclass
class FailoverResult:
    """What one round measured (times in seconds from the SIGKILL of the victim node)."""

    victim: str
    victim_roles: list[str]  # JetStream leaderships the victim held when killed
    messages: int
    sent_before_kill: int
    delivered_unique: int
    lost: int
    handler_duplicates: int  # messages the handler saw more than once (must be 0)
    dedupe_dropped: int  # redeliveries removed by the subscriber's dedupe
    publish_retries: int  # publishes the publisher sent again (timeout or link loss)
    subscriber_failover_s: float | None  # kill -> subscriber CONNECTED on another node
    publisher_failover_s: float | None
    subscriber_broker: str
    publisher_broker: str
    settle_s: float  # end of publishing -> last missing message delivered
    errors: list[str] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # first missing sequence numbers
    subscriber_metrics: dict[str, int] = field(default_factory=dict)
    publisher_metrics: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def run_failover_round(
    cluster: NatsCluster,
    *,
    victim_index: int = 0,
    messages: int = 1500,
    rate: float = 300.0,
    kill_after: float = 1.0,
    settle_timeout: float = 45.0,
    connect_timeout: float = 3.0,
) -> FailoverResult:
    """Kill ``cluster.nodes[victim_index]`` mid-stream; return what the handler received."""
    loop = asyncio.get_running_loop()
    victim = cluster.nodes[victim_index]
    order = [victim.url] + [n.url for i, n in enumerate(cluster.nodes) if i != victim_index]
    run = secrets.token_hex(3)
    topic = f"failover/{run}/data"

    def config(client_id: str, **settings: Any) -> MQTTClientConfig:
        return MQTTClientConfig(
            url=",".join(order),
            client_id=client_id,
            reconnect_min_delay=0.1,
            reconnect_max_delay=0.5,
            connect_timeout=connect_timeout,
            publish_timeout=5.0,
            shutdown_timeout=2.0,
            offline_queue_size=100_000,
            **settings,
        )

    counts: Counter[int] = Counter()
    all_in = asyncio.Event()

    async def handler(payload: bytes, meta: MessageMeta) -> None:
        counts[orjson.loads(payload)["data"]["seq"]] += 1
        if len(counts) >= messages:
            all_in.set()

    subscriber = MQTTClient(
        config(
            f"failover-sub-{run}",
            clean_session=False,
            dedupe_ttl=600.0,
            dedupe_max_entries=200_000,
        )
    )
    publisher = MQTTClient(config(f"failover-pub-{run}"))
    killed_at: float | None = None
    connected_after_kill: dict[str, float] = {}

    def watch(name: str) -> Any:
        def listener(state: ClientState) -> None:
            if state is ClientState.CONNECTED and killed_at is not None:
                connected_after_kill.setdefault(name, loop.time() - killed_at)

        return listener

    subscriber.add_state_listener(watch("subscriber"))
    publisher.add_state_listener(watch("publisher"))
    errors: list[str] = []
    sent = 0
    try:
        await subscriber.subscribe(topic, handler, qos=1)
        await subscriber.connect()
        await publisher.connect()

        async def produce() -> None:
            nonlocal sent
            interval = 1.0 / rate
            next_at = loop.time()
            for seq in range(messages):
                _, payload = encode_envelope("failover.data", {"seq": seq}, source="publisher")
                for _attempt in range(20):
                    try:
                        await publisher.publish(topic, payload, qos=1)
                        break
                    except PublishTimeoutError as exc:  # not acknowledged: same bytes again
                        errors.append(f"seq {seq}: {exc}")
                else:
                    errors.append(f"seq {seq}: gave up after 20 attempts")
                sent = seq + 1
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - loop.time()))

        producer = asyncio.create_task(produce())
        await asyncio.sleep(kill_after)
        sent_before_kill = sent
        roles = [r for r, n in jetstream_leaders(cluster).items() if n == victim.server_name]
        killed_at = loop.time()
        await asyncio.to_thread(victim.kill)
        await producer
        produced_at = loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), settle_timeout)
        settle = loop.time() - produced_at
        return FailoverResult(
            victim=victim.url,
            victim_roles=roles,
            messages=messages,
            sent_before_kill=sent_before_kill,
            delivered_unique=len(counts),
            lost=messages - len(counts),
            handler_duplicates=sum(c - 1 for c in counts.values()),
            dedupe_dropped=subscriber.metrics.duplicates,
            publish_retries=publisher.metrics.publish_retries + len(errors),
            subscriber_failover_s=connected_after_kill.get("subscriber"),
            publisher_failover_s=connected_after_kill.get("publisher"),
            subscriber_broker=str(subscriber.broker),
            publisher_broker=str(publisher.broker),
            settle_s=settle,
            missing=[s for s in range(messages) if s not in counts][:50],
            subscriber_metrics=subscriber.metrics.snapshot(),
            publisher_metrics=publisher.metrics.snapshot(),
            errors=errors[:20],
        )
    finally:
        await publisher.shutdown()
        await subscriber.shutdown()
