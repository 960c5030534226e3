"""MQTT 5 with the generated TARS client: properties, shared subscriptions, response topics,
session expiry and reason codes.

Run against a broker:  python mqtt5.py mqtt://127.0.0.1:1883
(For the reason-code part the broker must deny ``forbidden/#``; see the guide.)
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from mqttwire import MessageMeta, MQTTClientConfig, PublishError
from mqttwire.reason_codes import reason_name
from mqttwire.transport import MessageProperties
from tars_mqtt import TarsClient
from tars_mqtt.models import LLMRequest, LLMResponse, TtsSay


def client(url: str, client_id: str, **settings: object) -> TarsClient:
    return TarsClient(MQTTClientConfig(url=url, client_id=client_id, protocol="5", **settings))


async def main(url: str) -> None:
    router, tts_a, tts_b, llm = (
        client(url, name) for name in ("router", "tts-a", "tts-b", "llm-worker")
    )
    async with router, tts_a, tts_b, llm:
        # 1. Envelope metadata as user properties, content type from the contract.
        seen: asyncio.Queue[MessageMeta] = asyncio.Queue()

        async def on_say(msg: TtsSay, meta: MessageMeta) -> None:
            await seen.put(meta)

        sub = await tts_a.subscribe_tts_say(on_say)
        envelope_id = await router.publish_tts_say(TtsSay(text="hello"))
        meta = await asyncio.wait_for(seen.get(), 5)
        print(f"user properties: {dict(meta.user_properties) | {'id': '...'}}")
        print(f"id mirrored: {meta.user_properties['id'] == envelope_id}")
        print(f"content type: {meta.content_type}")
        await tts_a.client.unsubscribe(sub)

        # 2. Shared subscription: two TTS workers split the stream.
        said: dict[str, int] = {"tts-a": 0, "tts-b": 0}
        done = asyncio.Event()

        def worker(name: str) -> Callable[[TtsSay, MessageMeta], Awaitable[None]]:
            async def speak(msg: TtsSay, meta: MessageMeta) -> None:
                said[name] += 1
                if sum(said.values()) == 20:
                    done.set()

            return speak

        await tts_a.subscribe_tts_say(worker("tts-a"), share_group="speakers")
        await tts_b.subscribe_tts_say(worker("tts-b"), share_group="speakers")
        for i in range(20):
            await router.publish_tts_say(TtsSay(text=f"line {i}"))
        await asyncio.wait_for(done.wait(), 5)
        print(f"shared: {sum(said.values())} lines, both workers busy: {all(said.values())}")

        # 3. Request/reply: the request names the requester's response topic.
        async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
            print(f"response topic: {meta.response_topic}")
            return LLMResponse(id=request.id, reply="pong")

        await llm.serve_llm_request(answer)
        reply = await router.request_llm_request(LLMRequest(id="1", text="ping"), timeout=5)
        print(f"reply: {reply.reply}")

        # 4. Raw publish with properties: expiry and user properties.
        await router.client.publish(
            "demo/expiring",
            b"{}",
            qos=1,
            properties=MessageProperties(
                message_expiry_interval=30, user_properties=(("trace", "t-1"),)
            ),
        )

        # 5. Reason codes: a refused publish raises PublishError with the broker's code.
        try:
            await router.client.publish("forbidden/x", b"{}", qos=1)
            print("forbidden/x: accepted")
        except PublishError as exc:
            code = exc.reason_code or 0
            print(f"forbidden/x: refused, reason code {code:#04x} ({reason_name(code)})")

    # 6. Session expiry: a persistent session outlives the connection for 60 s.
    away = client(url, "memory-worker", clean_session=False, session_expiry=60)
    got: asyncio.Queue[str] = asyncio.Queue()

    async def remember(msg: TtsSay, meta: MessageMeta) -> None:
        await got.put(msg.text)

    await away.subscribe_tts_say(remember)
    await away.connect()
    await away.disconnect()  # the broker keeps the session and queues QoS 1 messages
    async with client(url, "router-2") as sender:
        await sender.publish_tts_say(TtsSay(text="said while away"))
    await away.connect()
    print(f"session kept: {await asyncio.wait_for(got.get(), 5)}")
    await away.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
