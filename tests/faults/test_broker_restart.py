"""Cases 1 and 2: the broker restarts (SIGTERM) or dies (SIGKILL) under QoS 1 load.

A publisher sends envelopes at ~200 msg/s, one awaited call at a time; a subscriber with a
persistent session and dedupe counts handler calls per envelope id.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from fault_support import (
    ClientFactory,
    EnvelopeInbox,
    PacedPublisher,
    last_autosave,
    wait_state,
    wait_until,
)

from mqttwire import ClientState, MQTTClient
from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]

RATE = 200.0
TOPIC = "load/seq"
DEDUPE = {"dedupe_ttl": 120.0, "dedupe_max_entries": 100_000}


async def _pair(
    make_client: ClientFactory, broker: MosquittoBroker, name: str
) -> tuple[MQTTClient, EnvelopeInbox, MQTTClient]:
    sub = make_client(f"{name}-sub", broker.url, clean_session=False, **DEDUPE)
    inbox = EnvelopeInbox()
    await sub.subscribe("load/#", inbox.handler, qos=1)
    await sub.connect()
    pub = make_client(f"{name}-pub", broker.url, offline_queue_size=10_000)
    await pub.connect()
    return sub, inbox, pub


async def test_broker_restart_under_qos1_load_delivers_every_message_once(
    make_client: ClientFactory, persistent_broker: MosquittoBroker
) -> None:
    broker = persistent_broker
    sub, inbox, pub = await _pair(make_client, broker, "restart")
    publisher = PacedPublisher(pub, TOPIC, RATE)
    run = asyncio.create_task(publisher.run(800))  # ~4 s of load
    await wait_until(lambda: publisher.sent >= 200, 20, "200 messages before the restart")

    await asyncio.to_thread(broker.restart)  # SIGTERM: mosquitto saves its sessions, restarts

    sent = await asyncio.wait_for(run, 60)
    assert sent == 800
    await wait_state(pub, ClientState.CONNECTED, 20)
    await wait_until(lambda: pub.offline_queue_length == 0, 20, "offline queue flushed")
    await wait_until(lambda: set(inbox.calls) >= set(publisher.ids), 30, "every id delivered")
    await asyncio.sleep(0.5)  # a late redelivery would show up as a second call now

    assert set(inbox.calls) == set(publisher.ids)
    assert inbox.total == 800, f"{inbox.total - 800} duplicates reached the handler"
    assert inbox.twice() == []
    # The fault really happened to both clients, and the publisher's queue carried messages.
    assert pub.metrics.reconnects >= 1 and sub.metrics.reconnects >= 1
    assert pub.metrics.offline_queued + pub.metrics.publish_retries >= 1
    assert pub.metrics.offline_flushed >= 1


async def test_broker_sigkill_loses_only_what_the_broker_acked_but_had_not_saved(
    make_client: ClientFactory,
    persistent_broker: MosquittoBroker,
) -> None:
    broker = persistent_broker
    sub, inbox, pub = await _pair(make_client, broker, "sigkill")
    transport = make_client.transport_of(pub)
    await asyncio.sleep(1.5)  # the subscriber's session is in an autosave (every 1 s)
    publisher = PacedPublisher(pub, TOPIC, RATE)
    run = asyncio.create_task(publisher.run())
    await wait_until(lambda: publisher.sent >= 200, 20, "200 messages before the kill")

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(broker.kill)  # SIGKILL: nothing is saved beyond the last autosave
    killed_at, killed_wall = loop.time(), time.time()
    last_save = last_autosave(broker.log())  # the dead broker's complete log
    await asyncio.sleep(3.0)  # the outage itself
    sent_while_down = publisher.sent
    await asyncio.to_thread(broker.start)
    restarted_at = loop.time()
    await wait_until(lambda: publisher.sent >= sent_while_down + 200, 30, "load after restart")
    publisher.stop()
    await asyncio.wait_for(run, 30)

    await wait_state(pub, ClientState.CONNECTED, 20)
    await wait_state(sub, ClientState.CONNECTED, 20)
    await wait_until(lambda: pub.offline_queue_length == 0, 20, "offline queue flushed")
    acked = transport.acked_at

    def ack_time(message_id: str) -> float | None:
        return acked.get(publisher.payload_of[message_id])

    # Held by the client: publish() returned while the broker was gone, and the broker that died
    # never acknowledged them (queued offline, or in flight when it died). Every one must arrive,
    # and so must everything published after the restart (state recovered).
    returned = dict(zip(publisher.ids, publisher.returned_at, strict=True))
    not_acked_by_dead_broker = [m for m in publisher.ids if (ack_time(m) or killed_at) >= killed_at]
    held = [m for m in not_acked_by_dead_broker if returned[m] < restarted_at]
    after = [m for m in publisher.ids if returned[m] >= restarted_at]
    assert len(held) >= 100, "the publisher did not queue anything while the broker was down"
    must_arrive = set(not_acked_by_dead_broker)
    await wait_until(lambda: set(inbox.calls) >= must_arrive, 30, "every held message delivered")
    await asyncio.sleep(0.5)  # a late redelivery would show up as a second call now

    delivered = set(inbox.calls)
    lost = [m for m in publisher.ids if m not in delivered]
    acked_wall = transport.acked_wall
    for message_id in lost:
        t = ack_time(message_id)
        assert t is not None and t < killed_at, "a message lost on the client side"
        # Only what the broker acked after its last autosave may be lost.
        wall = acked_wall[publisher.payload_of[message_id]]
        assert wall >= last_save, f"lost a message acked {last_save - wall:.2f}s before a save"
    assert inbox.twice() == [], "a duplicate reached the handler"
    assert inbox.total == len(publisher.ids) - len(lost)
    assert pub.metrics.reconnects >= 1 and sub.metrics.reconnects >= 1
    print(  # captured: shown with the report when the test fails, or with -s
        f"[case 2] published={len(publisher.ids)} held_by_client={len(held)} "
        f"after_restart={len(after)} "
        f"broker_side_loss={len(lost)} duplicates_dropped={sub.metrics.duplicates} "
        f"unsaved_window={killed_wall - last_save:.1f}s"
    )


async def test_broker_sigkill_with_subscriber_away_loses_at_most_the_unsaved_tail(
    make_client: ClientFactory,
    persistent_broker: MosquittoBroker,
) -> None:
    """The documented loss, made visible: the broker queues for an absent persistent session and
    dies; what it acked after its last autosave is gone, everything older arrives."""
    broker = persistent_broker
    sub, inbox, pub = await _pair(make_client, broker, "away")
    transport = make_client.transport_of(pub)
    await sub.disconnect()  # clean DISCONNECT: the session (and its subscription) stays
    publisher = PacedPublisher(pub, TOPIC, RATE)
    await asyncio.wait_for(publisher.run(1000), 60)  # 5 s, every call acknowledged
    await asyncio.to_thread(broker.kill)
    killed_wall = time.time()
    last_save = last_autosave(broker.log())  # the dead broker's complete log
    await asyncio.to_thread(broker.start)
    await sub.connect()

    acked = {m: transport.acked_wall[publisher.payload_of[m]] for m in publisher.ids}
    assert all(t < killed_wall for t in acked.values())
    # Acknowledged before the broker's last autosave: in its file, so it must arrive.
    saved = {m for m, t in acked.items() if t < last_save}
    assert saved, "mosquitto did not autosave during 5 s of load"
    try:
        await wait_until(lambda: set(inbox.calls) >= saved, 30, "the saved part of the backlog")
    except AssertionError:
        missing = sorted(saved - set(inbox.calls), key=publisher.ids.index)
        seqs = [publisher.ids.index(m) for m in missing]
        saves = [
            line for line in broker.log().splitlines() if "Saving" in line or "version" in line
        ]
        raise AssertionError(
            f"delivered={inbox.total} saved={len(saved)} missing={len(missing)} "
            f"sub={sub.metrics.snapshot()} "
            f"seqs={seqs[:3]}..{seqs[-3:]} last_save={last_save} killed={killed_wall:.2f} "
            f"acks={acked[missing[0]]:.2f}..{acked[missing[-1]]:.2f} saves={saves}"
        ) from None
    await asyncio.sleep(1.0)  # the rest of the saved backlog, if any, arrives now

    lost = [m for m in publisher.ids if m not in inbox.calls]
    assert all(m not in saved for m in lost)
    assert inbox.twice() == []
    assert inbox.total == 1000 - len(lost)
    print(  # captured: shown with the report when the test fails, or with -s
        f"[case 2b] queued_for_absent_sub=1000 saved={len(saved)} "
        f"broker_side_loss={len(lost)} unsaved_window={killed_wall - last_save:.1f}s"
    )
