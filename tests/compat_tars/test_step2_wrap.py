"""Step 2 on top of step 1: the typed client shares the drop-in's connection (``runtime``)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from compat_support import Collector, MakeCompat

from mqttwire import MessageMeta
from tars_mqtt import TarsClient
from tars_mqtt.models import TtsSay, TtsStatus

pytestmark = pytest.mark.integration


async def test_tars_client_wraps_the_runtime_of_a_drop_in_client(compat: MakeCompat) -> None:
    mqtt = compat("tars-tts", source_name="tts")
    await mqtt.connect()
    assert mqtt.runtime is not None
    tars = TarsClient(client=mqtt.runtime)
    await tars.connect()  # already connected: shares the link

    said = Collector()
    await mqtt.subscribe("tts/say", said.handler)  # old-style handler
    statuses: list[TtsStatus] = []
    got_status = asyncio.Event()

    async def on_status(msg: TtsStatus, meta: MessageMeta) -> None:
        statuses.append(msg)
        got_status.set()

    await tars.subscribe_tts_status(on_status)  # new-style handler, same connection

    await tars.publish_tts_say(TtsSay(text="typed"))
    await mqtt.publish_event("tts/status", "tts.status", TtsStatus(event="speaking_start"))
    (payload,) = await said.wait_for(1)
    await asyncio.wait_for(got_status.wait(), 15)
    envelope = orjson.loads(payload)
    assert (envelope["type"], envelope["source"], envelope["data"]["text"]) == (
        "tts.say",
        "tts",
        "typed",
    )
    assert statuses[0].event == "speaking_start"
