"""Issue 15, "nothing lost when a handler dies": with ``ack_after_handler`` and a persistent
session, a worker SIGKILLed in the middle of a handler gets the message again on restart."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from typing import Literal

import pytest
from fault_support import ClientFactory

from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]

# A worker as deployed: configuration from the environment. It reports each job on stdout and,
# on its first run, hangs inside the handler of job STUCK_AT (where it is then killed).
WORKER = textwrap.dedent(
    """
    import asyncio, os
    from mqttwire import MQTTClient, MQTTClientConfig

    STUCK_AT = int(os.environ["STUCK_AT"])

    async def main() -> None:
        client = MQTTClient(MQTTClientConfig.from_env())

        async def job(payload: bytes) -> None:
            seq = int(payload)
            print("got", seq, flush=True)
            if seq == STUCK_AT and os.environ.get("FIRST_RUN") == "1":
                # Let the loop write the acknowledgements of the jobs before (queued for
                # the next loop turn) before saying where it hangs.
                for _ in range(3):
                    await asyncio.sleep(0)
                print("stuck", seq, flush=True)
                await asyncio.Event().wait()
            print("done", seq, flush=True)

        # Before connecting: the session's backlog arrives right after CONNACK.
        await client.subscribe("jobs/work", job, qos=1)
        async with client:
            print("ready", flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)
STUCK_AT = 5
JOBS = 15


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.got: list[int] = []
        self.done: list[int] = []

    @classmethod
    async def start(cls, broker: MosquittoBroker, protocol: str, first_run: bool) -> _Worker:
        env = dict(
            os.environ,
            MQTT_URL=broker.url,
            MQTT_CLIENT_ID="ack-worker",
            MQTT_CLEAN_SESSION="false",
            MQTT_ACK_AFTER_HANDLER="true",
            MQTT_PROTOCOL=protocol,
            STUCK_AT=str(STUCK_AT),
            FIRST_RUN="1" if first_run else "0",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        worker = cls(process)
        await worker.read_until("ready")
        return worker

    async def read_until(self, wanted: str) -> None:
        """Read the worker's lines until ``wanted`` (30 s only to catch a hang)."""
        assert self.process.stdout is not None
        while True:
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(), 30)
            except TimeoutError:
                pytest.fail(f"no {wanted!r} from the worker; it got {self.got}, did {self.done}")
            if not line:
                err = await self.process.stderr.read() if self.process.stderr else b""
                pytest.fail(f"worker ended before {wanted!r}: {err.decode(errors='replace')}")
            text = line.decode().strip()
            word, _, seq = text.partition(" ")
            if word == "got":
                self.got.append(int(seq))
            elif word == "done":
                self.done.append(int(seq))
            if text == wanted:
                return

    async def kill(self) -> None:
        if self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)
        await self.process.wait()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_sigkill_mid_handler_loses_nothing(
    make_client: ClientFactory, broker: MosquittoBroker, protocol: Literal["3.1.1", "5"]
) -> None:
    publisher = make_client("ack-publisher", broker.url)
    await publisher.connect()
    first = await _Worker.start(broker, protocol, first_run=True)
    second: _Worker | None = None
    try:
        for seq in range(10):
            await publisher.publish("jobs/work", str(seq).encode(), qos=1)
        await first.read_until(f"stuck {STUCK_AT}")
        await first.kill()
        assert STUCK_AT not in first.done
        # Published while no worker runs: the persistent session keeps them.
        for seq in range(10, JOBS):
            await publisher.publish("jobs/work", str(seq).encode(), qos=1)

        second = await _Worker.start(broker, protocol, first_run=False)
        for seq in range(JOBS):
            if seq not in first.done and seq not in second.done:
                await second.read_until(f"done {seq}")
    finally:
        await first.kill()
        if second is not None:
            await second.kill()

    assert STUCK_AT in second.got  # the broker sent the interrupted job again
    assert set(first.done) | set(second.done) == set(range(JOBS))  # 0 lost
    # Handled jobs of the first run were acknowledged: none of them came back.
    assert not set(first.done) & set(second.got)
