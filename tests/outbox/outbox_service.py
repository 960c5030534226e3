"""A service for the crash tests, run as ``python outbox_service.py MODE COUNT``.

Configured from ``MQTT_*`` (``MQTT_OFFLINE_QUEUE_PATH`` among them). Modes:

* ``offline``: publishes COUNT QoS 1 envelopes ``{"seq": i}`` while the broker is away, prints
  ``accepted COUNT`` once every ``publish()`` returned, then waits to be killed.
* ``inflight``: connects, prints ``connected``, waits for a line on stdin, starts COUNT
  concurrent QoS 1 publishes, prints ``sending COUNT`` once each is under way (written to the
  outbox, not acknowledged), then waits to be killed.
* ``deliver``: only connects (what the outbox holds is flushed) and prints ``holding N``.

Every mode ends with a graceful ``shutdown()`` on SIGTERM and prints ``done``.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from mqttwire import MQTTClient, MQTTClientConfig

TOPIC = "outbox/crash"


async def main(mode: str, count: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    client = MQTTClient(MQTTClientConfig.from_env(connect_retry=True, publish_timeout=600))
    print(f"holding {client.offline_queue_length}", flush=True)
    connecting = loop.create_task(client.connect())
    await asyncio.sleep(0)  # connect() has started: publishes are accepted from here on
    if mode == "offline":
        for seq in range(count):
            await client.publish_event(TOPIC, "outbox.seq", {"seq": seq}, qos=1)
        print(f"accepted {count}", flush=True)
    elif mode == "inflight":
        await connecting
        print("connected", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        publishing = [
            loop.create_task(client.publish_event(TOPIC, "outbox.seq", {"seq": seq}, qos=1))
            for seq in range(count)
        ]
        # Each task runs up to its first await: the message is in the outbox and being sent.
        await asyncio.sleep(0)
        print(f"sending {len(publishing)}", flush=True)
    await stop.wait()
    await client.shutdown()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
