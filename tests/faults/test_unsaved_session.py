"""Issue 15, defect 6, pinned: what the client holds goes to the broker that is up when the link
comes back; a subscriber receives it only if its session exists on that broker then.

A broker SIGKILLed before it saved a subscriber's persistent session restarts without it, so
the client's held messages are acknowledged and reach no one. The client cannot tell (MQTT has
no "who is subscribed" query) and does not promise otherwise; docs/guarantees.md states what
the broker's persistence must be. With the session saved (here: a SIGTERM restart), every held
message arrives.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fault_support import ClientFactory, start_broker, wait_state, wait_until

from mqttwire import ClientState
from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]

HELD = 50


@pytest.fixture
def unsaved_broker() -> Iterator[MosquittoBroker]:
    """Persistence on, but no autosave during the test: only a clean stop writes the file."""
    b = start_broker(persistence=True, extra_config=["autosave_interval 3600"])
    try:
        yield b
    finally:
        b.close()


@pytest.mark.parametrize("saved", [False, True], ids=["sigkill-unsaved", "sigterm-saved"])
async def test_held_messages_reach_only_subscribers_whose_session_the_broker_kept(
    make_client: ClientFactory, unsaved_broker: MosquittoBroker, saved: bool
) -> None:
    broker = unsaved_broker
    got: list[bytes] = []

    async def collect(payload: bytes) -> None:
        got.append(payload)

    subscriber = make_client("held-sub", broker.url, clean_session=False)
    await subscriber.subscribe("held/#", collect, qos=1)
    await subscriber.connect()
    await subscriber.disconnect()  # away; its session lives in the broker (memory only)
    publisher = make_client("held-pub", broker.url, connect_retry=True)
    await publisher.connect()

    if saved:
        broker.stop()  # SIGTERM: mosquitto writes sessions to its persistence file
    else:
        broker.kill()  # SIGKILL before any autosave: the session is gone
    await wait_state(publisher, ClientState.RECONNECTING, 15)
    for i in range(HELD):
        await publisher.publish("held/t", str(i).encode(), qos=1)  # held by the client
    broker.start()
    await wait_state(publisher, ClientState.CONNECTED, 30)
    await wait_until(
        lambda: publisher.metrics.offline_flushed >= HELD, 30, "the held messages acknowledged"
    )

    await subscriber.connect()  # back with the same client id and clean_session=False
    await publisher.publish("held/t", b"marker", qos=1)
    await wait_until(lambda: b"marker" in got, 30, "the marker published after the subscriber")
    held = [p for p in got if p != b"marker"]
    if saved:
        assert held == [str(i).encode() for i in range(HELD)]
    else:
        assert held == []  # acknowledged by the restarted broker, delivered to no one
