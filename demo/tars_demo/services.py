"""The three demo services, each a small program on the generated ``TarsClient``.

``python -m tars_demo.services NAME`` runs one of them until SIGTERM/SIGINT or until its
standard input closes (the demo keeps a pipe open to every service, so a service never outlives
the demo, even when the demo itself is killed). Configuration comes from the ``MQTT_*``
environment variables that the demo sets (``MQTT_URL``, ``MQTT_CLIENT_ID``,
``MQTT_ENABLE_HEALTH=true``): health is published retained on ``system/health/{client_id}`` and
the last will marks the service unhealthy when it dies without saying goodbye.

* **router** receives ``stt/final`` and asks the llm with ``request_llm_request`` (request/reply,
  correlated by the envelope id).
* **llm** answers with ``serve_llm_request`` and asks tts to speak (``tts/say``).
* **tts** "speaks" each ``tts/say`` and reports ``tts/status`` (``speaking_start``/``_end``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import sys
import time
from collections.abc import Awaitable, Callable

from mqttwire import MessageMeta, MQTTClientConfig, MQTTWireError, RequestTimeoutError
from mqttwire.observability.logs import configure_logging
from tars_mqtt import TarsClient
from tars_mqtt.models import FinalTranscript, LLMRequest, LLMResponse, TtsSay, TtsStatus

__all__ = ["SERVICES", "answer_for", "main", "serve"]

_LOG = logging.getLogger("tars_demo.services")

# A deterministic stand-in for a language model: keyword -> answer.
_ANSWERS = (
    ("hello", "Hello! TARS here, all systems nominal."),
    ("weather", "Clear skies over the workshop, twenty-one degrees."),
    ("joke", "I have a cue light I can use when I'm joking, if you like."),
    ("honesty", "Ninety percent. Absolute honesty isn't always the most diplomatic."),
    ("back", "Speech is back online."),
)

SPEAKING_SECONDS_PER_WORD = 0.01
"""How long the pretend speaker talks per word (the demo has no audio)."""


def answer_for(text: str) -> str:
    """The llm's reply to ``text``."""
    lowered = text.lower()
    for keyword, answer in _ANSWERS:
        if keyword in lowered:
            return answer
    return f"You said: {text}"


def _say(name: str, message: str) -> None:
    """One line on stdout; the demo keeps these and shows them with ``--verbose`` or on failure."""
    print(f"{name}: {message}", flush=True)


async def router(tars: TarsClient) -> None:
    """stt/final -> llm request/reply."""

    async def heard(msg: FinalTranscript, meta: MessageMeta) -> None:
        request = LLMRequest(id=msg.utt_id or msg.message_id, text=msg.text, stream=False)
        started = time.perf_counter()
        try:
            reply = await tars.request_llm_request(request, timeout=10)
        except RequestTimeoutError as exc:
            _say("router", f"no reply from llm: {exc}")
            return
        took = (time.perf_counter() - started) * 1000
        _say("router", f"{request.id}: llm replied {reply.reply!r} in {took:.1f} ms")

    await tars.subscribe_stt_final(heard)


async def llm(tars: TarsClient) -> None:
    """Answer llm/request (reply on llm/response) and ask tts to speak the answer."""

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        text = answer_for(request.text)
        await tars.publish_tts_say(
            TtsSay(text=text, utt_id=request.id), correlation_id=meta.envelope_id
        )
        _say("llm", f"{request.id}: answering {text!r}")
        return LLMResponse(id=request.id, reply=text, provider="demo", model="keyword-table")

    await tars.serve_llm_request(answer)


async def tts(tars: TarsClient) -> None:
    """Pretend to speak every tts/say and report tts/status transitions."""

    async def speak(say: TtsSay, meta: MessageMeta) -> None:
        await tars.publish_tts_status(
            TtsStatus(event="speaking_start", text=say.text, utt_id=say.utt_id)
        )
        # Simulated speech; the demo waits for speaking_end, never for this sleep.
        await asyncio.sleep(SPEAKING_SECONDS_PER_WORD * len(say.text.split()))
        await tars.publish_tts_status(
            TtsStatus(event="speaking_end", text=say.text, utt_id=say.utt_id)
        )
        _say("tts", f"{say.utt_id}: spoke {say.text!r}")

    await tars.subscribe_tts_say(speak)


SERVICES: dict[str, Callable[[TarsClient], Awaitable[None]]] = {
    "router": router,
    "llm": llm,
    "tts": tts,
}


class _StdinClosed(asyncio.Protocol):
    """Sets ``stop`` when standard input reaches EOF (the demo closed its end or died)."""

    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool | None:
        self._stop.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop.set()


async def _watch_stdin(stop: asyncio.Event) -> asyncio.BaseTransport | None:
    """Stop when stdin closes; ``None`` when stdin is not a pipe (e.g. run by hand in a tty)."""
    if sys.stdin is None or not stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        return None
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(lambda: _StdinClosed(stop), sys.stdin)
    return transport


async def serve(name: str) -> int:
    """Run service ``name`` until asked to stop; the client's shutdown publishes health."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        # A plain handler, not loop.add_signal_handler: asyncio restores the default action when
        # the loop closes, so a second SIGTERM (the demo stopping its services right after a
        # Ctrl-C reached the whole process group) would kill a service that is already exiting.
        with contextlib.suppress(RuntimeError):  # the loop is closed: we are exiting anyway
            loop.call_soon_threadsafe(stop.set)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    watcher = await _watch_stdin(stop)
    config = MQTTClientConfig.from_env()
    tars = TarsClient(config)
    # Handlers registered before connect() are subscribed with the first CONNECT, and the
    # retained health "ready" is published only after the SUBACK: healthy means listening.
    await SERVICES[name](tars)
    async with tars:
        _say(name, f"ready (client id {config.client_id}, pid {os.getpid()})")
        await stop.wait()
        _say(name, "stopping")
    # Exiting: Python resets its own handlers to the default during finalization, so a signal
    # arriving then (the demo's SIGTERM after a Ctrl-C to the group) would kill us; SIG_IGN stays.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    if watcher is not None:
        watcher.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in SERVICES:
        print(f"usage: python -m tars_demo.services {{{','.join(SERVICES)}}}", file=sys.stderr)
        return 2
    name = args[0]
    try:
        if os.environ.get("MQTT_LOG_FORMAT", "").strip().lower() == "json":
            configure_logging(level=os.environ.get("MQTT_LOG_LEVEL") or "WARNING")
        else:
            logging.basicConfig(
                level=logging.WARNING, format=f"{name}: %(levelname)s %(name)s: %(message)s"
            )
        return asyncio.run(serve(name))
    except MQTTWireError as exc:  # bad MQTT_* setting, broker unreachable, ...
        print(f"{name}: cannot run: {exc}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
