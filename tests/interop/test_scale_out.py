"""Scale-out workers: shared subscriptions (``$share/<group>/<filter>``) split a stream.

What Mosquitto 2.0 guarantees, as these tests assert it:

* A message goes to exactly one member of the group (round robin); nothing is duplicated.
* A member killed with SIGKILL is dropped from the group as soon as the broker sees its socket
  close; later messages go to the others. With a *clean session* the killed member's in-flight
  QoS 1 messages are not handed to the others: those (the client acknowledges QoS 1 on receipt,
  before its handler runs, so also those received but not yet handled) are lost - at most once
  for the messages in flight at the kill, exactly once for all the others.
* With a *persistent session* (``clean_session=False``) the dead member stays in the group: it
  keeps getting its share, queued in its session, until it comes back with the same client id
  (then it gets them) or the session expires. The others do not take over.

NATS, RabbitMQ 3.10 and amqtt have no shared subscriptions over MQTT 3.1.1: ``$share/...`` is
granted as a literal topic and receives nothing; the last test asserts that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import textwrap
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable

import orjson
import pytest
from interop_support import BrokerTarget, Inbox, Matrix

from mqttwire import MessageMeta, MQTTClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

Clients = Callable[..., MQTTClient]
MESSAGES = 3000
KILL_AT = 1500

WORKER = textwrap.dedent(
    """
    import asyncio, sys
    import orjson
    from mqttwire import MQTTClient, MQTTClientConfig

    async def main() -> None:
        url, client_id, topic_filter, protocol, clean = sys.argv[1:6]
        client = MQTTClient(MQTTClientConfig(url=url, client_id=client_id, protocol=protocol,
                                             clean_session=clean == "1"))
        out = sys.stdout

        async def handle(payload: bytes) -> None:
            out.write(f"{orjson.loads(payload)['data']['seq']}\\n")
            out.flush()

        await client.subscribe(topic_filter, handle, qos=1)
        await client.connect()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


class Workers:
    """Worker processes; ``handled[name]`` lists the sequence numbers each one handled."""

    def __init__(self, target: BrokerTarget, topic_filter: str, clean: bool) -> None:
        self.target = target
        self.topic_filter = topic_filter
        self.clean = clean
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.handled: defaultdict[str, list[int]] = defaultdict(list)
        self._readers: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()

    async def start(self, name: str, client_id: str) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            self.target.url,
            client_id,
            self.topic_filter,
            self.target.expect.protocol,
            "1" if self.clean else "0",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if line.strip() != b"ready":
            stderr = await process.stderr.read() if process.stderr else b""
            pytest.fail(f"worker {name} did not start: {stderr.decode(errors='replace')}")
        self.processes[name] = process
        self._readers.append(asyncio.create_task(self._read(name, process)))

    async def _read(self, name: str, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            self.handled[name].append(int(line))
            self._changed.set()

    async def kill(self, name: str) -> None:
        process = self.processes[name]
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()

    def counts(self) -> Counter[int]:
        return Counter(seq for seqs in self.handled.values() for seq in seqs)

    async def settle(self, expected: Callable[[Counter[int]], bool], within: float) -> None:
        """Wait until ``expected(counts)`` holds (or ``within`` passed), then a little more so
        that a late duplicate would show."""
        await wait_until(lambda: expected(self.counts()), self._changed, within)
        await asyncio.sleep(0.5)

    async def close(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.kill()
                await process.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


async def wait_until(condition: Callable[[], bool], changed: asyncio.Event, within: float) -> None:
    """Wait (at most ``within`` s) until ``condition()``, re-checking whenever ``changed`` fires."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        changed.clear()
        left = deadline - loop.time()
        if left <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), left)


@pytest.fixture
async def workers_factory() -> AsyncIterator[Callable[..., Workers]]:
    made: list[Workers] = []

    def make(target: BrokerTarget, topic_filter: str, *, clean: bool) -> Workers:
        pool = Workers(target, topic_filter, clean)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        await pool.close()


async def publish_stream(
    publisher: MQTTClient, topic: str, on_seq: Callable[[int], object] | None = None
) -> None:
    for seq in range(MESSAGES):
        await publisher.publish_event(topic, "job", {"seq": seq}, qos=1)
        if on_seq is not None:
            result = on_seq(seq)
            if asyncio.iscoroutine(result):
                await result
        if seq % 50 == 0:
            await asyncio.sleep(0.005)  # a stream, not one burst: the kill lands mid-flow


def assert_spread(handled: dict[str, list[int]], names: list[str]) -> None:
    for name in names:
        share = len(handled.get(name, []))
        assert share > 0, f"worker {name} got nothing: { {k: len(v) for k, v in handled.items()} }"
        assert share <= 0.8 * MESSAGES, f"worker {name} got {share} of {MESSAGES}"


@pytest.mark.parametrize("key", ["mosquitto-5", "mosquitto-3.1.1"])
@pytest.mark.matrix("shared", "Shared subscriptions: 3 workers, 3,000 messages, one killed")
async def test_killed_worker_share_is_taken_over_by_the_others(
    broker_target: Callable[[str], BrokerTarget],
    clients: Clients,
    workers_factory: Callable[..., Workers],
    ns: str,
    key: str,
    matrix: Matrix,
) -> None:
    target = broker_target(key)
    workers = workers_factory(target, f"$share/workers/{ns}/jobs", clean=True)
    for i in range(3):
        await workers.start(f"w{i}", f"worker-{i}-{ns.rsplit('/', 1)[-1]}")
    publisher = clients(target, "producer")
    await publisher.connect()

    async def kill_midway(seq: int) -> None:
        if seq == KILL_AT:
            await workers.kill("w0")

    await publish_stream(publisher, f"{ns}/jobs", kill_midway)
    after_kill = range(KILL_AT + 1, MESSAGES)
    await workers.settle(lambda c: all(s in c for s in after_kill), within=20)

    counts = workers.counts()
    duplicates = {seq: n for seq, n in counts.items() if n > 1}
    lost = sorted(set(range(MESSAGES)) - set(counts))
    summary = f"handled { {k: len(v) for k, v in workers.handled.items()} }, lost {lost[:20]}"
    assert not duplicates, f"handled twice: {sorted(duplicates)[:20]}; {summary}"
    assert_spread(workers.handled, ["w0", "w1", "w2"])
    # The survivors took over: every message published after the kill, exactly once.
    assert all(counts[seq] == 1 for seq in after_kill), summary
    assert not set(workers.handled["w0"]) & set(after_kill), summary
    # What could be lost: only messages in flight to the killed worker when it died.
    assert all(seq <= KILL_AT for seq in lost), summary
    assert len(lost) <= 20, summary
    matrix.note(
        f"3 workers, {MESSAGES} QoS 1 messages, worker killed at #{KILL_AT}: "
        f"{ {k: len(v) for k, v in sorted(workers.handled.items())} }, 0 duplicates, "
        f"{len(lost)} lost (in flight to the killed worker: not redistributed); every later "
        "message handled once by the survivors"
    )


async def test_persistent_session_worker_keeps_its_share_until_it_returns(
    broker_target: Callable[[str], BrokerTarget],
    clients: Clients,
    workers_factory: Callable[..., Workers],
    ns: str,
) -> None:
    target = broker_target("mosquitto-5")
    workers = workers_factory(target, f"$share/workers/{ns}/jobs", clean=False)
    ids = {f"w{i}": f"pworker-{i}-{ns.rsplit('/', 1)[-1]}" for i in range(3)}
    for name, client_id in ids.items():
        await workers.start(name, client_id)
    publisher = clients(target, "producer")
    await publisher.connect()

    async def kill_midway(seq: int) -> None:
        if seq == KILL_AT:
            await workers.kill("w0")

    await publish_stream(publisher, f"{ns}/jobs", kill_midway)
    after_kill = set(range(KILL_AT + 1, MESSAGES))
    await workers.settle(lambda c: len(after_kill & set(c)) >= len(after_kill) // 2, within=20)
    taken = after_kill & set(workers.counts())
    # The dead member kept its share: a good part of the later messages waits in its session.
    assert len(after_kill - taken) >= len(after_kill) // 5, (len(taken), len(after_kill))

    await workers.start("w0-again", ids["w0"])  # same client id: its session is back
    await workers.settle(lambda c: after_kill <= set(c), within=20)
    counts = workers.counts()
    assert all(counts[seq] == 1 for seq in after_kill), sorted(after_kill - set(counts))[:20]
    survivors = set(workers.handled["w1"]) | set(workers.handled["w2"])
    returned = set(workers.handled["w0-again"])
    assert returned & after_kill == after_kill - survivors  # exactly the share it was kept
    assert all(seq <= KILL_AT for seq in returned - after_kill)  # + redelivered in-flight ones
    assert not [seq for seq, n in counts.items() if n > 1]
    lost = sorted(set(range(MESSAGES)) - set(counts))
    assert all(seq <= KILL_AT for seq in lost) and len(lost) <= 20, lost


@pytest.mark.parametrize("protocol_key", ["mosquitto-3.1.1", "mosquitto-5"])
@pytest.mark.matrix("shared-typed", "share_group= on a typed channel splits the stream")
async def test_typed_share_group_splits_a_channel(
    broker_target: Callable[[str], BrokerTarget],
    clients: Clients,
    protocol_key: str,
    matrix: Matrix,
) -> None:
    from tars_mqtt import TarsClient
    from tars_mqtt.models import TtsSay

    target = broker_target(protocol_key)
    handled: defaultdict[str, list[str]] = defaultdict(list)
    changed = asyncio.Event()
    workers = []
    for i in range(3):
        worker = TarsClient(client=clients(target, f"tts-{i}"))
        await worker.connect()

        async def handler(msg: TtsSay, meta: MessageMeta, name: str = f"w{i}") -> None:
            handled[name].append(msg.text)
            changed.set()

        await worker.subscribe_tts_say(handler, share_group="tts-workers")
        workers.append(worker)
    router = TarsClient(client=clients(target, "router"))
    await router.connect()
    texts = [f"line {i}" for i in range(MESSAGES)]
    for text in texts:
        await router.publish_tts_say(TtsSay(text=text))
    await wait_until(lambda: sum(len(v) for v in handled.values()) >= MESSAGES, changed, 20)
    await asyncio.sleep(0.3)
    all_handled = Counter(t for v in handled.values() for t in v)
    assert sorted(all_handled) == sorted(texts) and set(all_handled.values()) == {1}
    assert all(0 < len(handled[f"w{i}"]) <= 0.8 * MESSAGES for i in range(3)), {
        k: len(v) for k, v in handled.items()
    }
    matrix.note(f"{ {k: len(v) for k, v in sorted(handled.items())} } of {MESSAGES}")


@pytest.mark.parametrize("key", ["nats", "rabbitmq", "amqtt"])
@pytest.mark.matrix("shared", "Shared subscriptions: 3 workers, 3,000 messages, one killed")
async def test_brokers_without_shared_subscriptions_take_share_filters_literally(
    broker_target: Callable[[str], BrokerTarget],
    clients: Clients,
    ns: str,
    key: str,
    matrix: Matrix,
) -> None:
    target = broker_target(key)
    shared, plain = Inbox(), Inbox()
    member = clients(target, "member")
    await member.subscribe(f"$share/workers/{ns}/jobs", shared.handler, qos=1)  # granted...
    await member.connect()
    control = clients(target, "control")
    await control.subscribe(f"{ns}/jobs", plain.handler, qos=1)
    await control.connect()
    await control.publish_event(f"{ns}/jobs", "job", {"seq": 0}, qos=1)
    await plain.wait_for(1)  # the message was published and routed...
    with pytest.raises(TimeoutError):
        await shared.wait_for(1, within=1.0)  # ...but the "shared" subscription got nothing
    assert orjson.loads(plain.payloads[0])["data"] == {"seq": 0}
    matrix.limited(
        "no shared subscriptions over MQTT 3.1.1: $share/<group>/<filter> is granted as a "
        "literal topic and receives nothing (asserted); the client cannot detect this on "
        "3.1.1 - run one consumer per stream, or partition topics per worker"
    )
