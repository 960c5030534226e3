"""The monitor: a ``TarsClient`` that watches every demo topic and prints the timeline.

Each received message becomes a :class:`Seen` record (arrival time, topic, delivered QoS,
envelope source, typed payload) and one timeline line. The demo waits on these records with
deadlines (:meth:`Monitor.wait_for`), never on sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from pydantic import BaseModel

from mqttwire import MessageMeta
from tars_mqtt import TarsClient
from tars_mqtt.models import (
    ConfigHealthPayload,
    FinalTranscript,
    HealthPing,
    LLMRequest,
    LLMResponse,
    TtsSay,
    TtsStatus,
    WakeHealthPayload,
)

__all__ = ["DemoFailure", "Monitor", "Seen", "Timeline"]


class DemoFailure(Exception):
    """A step of the demo did not happen in time; the message says which and what to check."""


@dataclass(frozen=True, slots=True)
class Seen:
    """One message the monitor received."""

    at: float
    """Seconds since the demo started, when the monitor's handler got the message."""
    topic: str
    qos: int
    retain: bool
    source: str | None
    """The envelope ``source`` (the publishing service's client id)."""
    model: BaseModel
    key: str | None
    """The utterance a message belongs to (``utt_id`` / request ``id``); ``None`` for health."""

    @property
    def health(self) -> HealthPing | None:
        return self.model if isinstance(self.model, HealthPing) else None


def _short(text: str | None, width: int = 34) -> str:
    if text is None:
        return "-"
    quoted = f'"{text}"'
    return quoted if len(quoted) <= width else quoted[: width - 4] + '..."'


@dataclass
class Timeline:
    """Formats and prints the demo's lines; remembers when each utterance was injected."""

    out: TextIO
    prefix: str
    started: float = field(default_factory=time.monotonic)
    injected: dict[str, float] = field(default_factory=dict)
    requested: dict[str, float] = field(default_factory=dict)

    def now(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def phase(self, title: str) -> None:
        self.say()
        self.say(f"-- {title} " + "-" * max(3, 92 - len(title)))

    def who(self, source: str | None) -> str:
        if source is None:
            return "(bare)"
        return source.removeprefix(self.prefix)

    COLUMNS = (
        f"{'time':>8}  {'sender':<7} {'topic':<25} {'QoS':<5} {'payload':<15} {'utt':<5} "
        f"{'content':<34} latency"
    )

    def header(self) -> None:
        self.say(self.COLUMNS)

    def message(self, seen: Seen) -> None:
        """One line per received message: time, sender, topic, QoS, model, content, latency.

        Latencies are measured by the monitor when it receives each message: ``+N ms`` counts
        from the moment it published the utterance's stt/final.
        """
        model = seen.model
        what: str
        latency = ""
        key = seen.key or ""
        if isinstance(model, FinalTranscript):
            what = _short(model.text)
            latency = self._since_injected(seen)
        elif isinstance(model, LLMRequest):
            what = _short(model.text)
            self.requested.setdefault(key, seen.at)
            latency = self._since_injected(seen)
        elif isinstance(model, LLMResponse):
            what = _short(model.reply or model.error)
            latency = self._since_injected(seen)
            if key in self.requested:
                took = 1000 * (seen.at - self.requested[key])
                latency += f" (reply {took:.1f} ms after the request)"
        elif isinstance(model, TtsSay):
            what = _short(model.text)
            latency = self._since_injected(seen)
        elif isinstance(model, TtsStatus):
            what = model.event
            latency = self._since_injected(seen)
        elif isinstance(model, HealthPing):
            what = f"ok={str(model.ok).lower()} event={model.event or '-'}"
            if model.err:
                what += f' err="{model.err}"'
        else:  # pragma: no cover - other health variants are not published by the demo
            what = repr(model)
        if seen.retain:
            what += " (retained)"
        self.say(
            f"{seen.at:7.3f}s  {self.who(seen.source):<7} {seen.topic:<25} QoS {seen.qos} "
            f"{type(model).__name__:<15} {key:<5} {what:<34} {latency}".rstrip()
        )

    def _since_injected(self, seen: Seen) -> str:
        if seen.key in self.injected:
            return f"+{1000 * (seen.at - self.injected[seen.key]):.1f} ms"
        return ""


HealthModel = HealthPing | WakeHealthPayload | ConfigHealthPayload


class Monitor:
    """Subscribes to the demo's topics through the typed client and records what it sees."""

    TOPICS = ("stt/final", "llm/request", "llm/response", "tts/say", "tts/status")

    def __init__(self, tars: TarsClient, timeline: Timeline) -> None:
        self.tars = tars
        self.timeline = timeline
        self.seen: list[Seen] = []
        self._changed = asyncio.Condition()
        self._abort: Callable[[], str | None] = lambda: None

    def set_abort_check(self, check: Callable[[], str | None]) -> None:
        """``check()`` returns a reason to stop waiting at once (e.g. a service crashed)."""
        self._abort = check

    async def poke(self) -> None:
        """Wake the waiters so they re-run the abort check."""
        async with self._changed:
            self._changed.notify_all()

    async def subscribe(self) -> None:
        """Subscribe to every demo topic (call before connect: subscribed with the CONNECT)."""
        tars = self.tars

        async def transcript(msg: FinalTranscript, meta: MessageMeta) -> None:
            await self._record(msg, meta, msg.utt_id)

        async def request(msg: LLMRequest, meta: MessageMeta) -> None:
            await self._record(msg, meta, msg.id)

        async def response(msg: LLMResponse, meta: MessageMeta) -> None:
            await self._record(msg, meta, msg.id)

        async def say(msg: TtsSay, meta: MessageMeta) -> None:
            await self._record(msg, meta, msg.utt_id)

        async def status(msg: TtsStatus, meta: MessageMeta) -> None:
            await self._record(msg, meta, msg.utt_id)

        async def health(msg: HealthModel, meta: MessageMeta) -> None:
            await self._record(msg, meta, None)

        await tars.subscribe_stt_final(transcript)
        await tars.subscribe_llm_request(request)
        await tars.subscribe_llm_response(response)
        await tars.subscribe_tts_say(say)
        await tars.subscribe_tts_status(status)
        await tars.subscribe_system_health(health)

    async def _record(self, model: BaseModel, meta: MessageMeta, key: str | None) -> None:
        seen = Seen(
            at=self.timeline.now(),
            topic=meta.topic,
            qos=meta.qos,
            retain=meta.retain,
            source=meta.source,
            model=model,
            key=key,
        )
        self.seen.append(seen)
        self.timeline.message(seen)
        async with self._changed:
            self._changed.notify_all()

    def mark(self) -> int:
        """A position in :attr:`seen`; pass it as ``since`` to wait only for newer messages."""
        return len(self.seen)

    def find(self, predicate: Callable[[Seen], bool], since: int = 0) -> Seen | None:
        for seen in self.seen[since:]:
            if predicate(seen):
                return seen
        return None

    async def wait_for(
        self,
        what: str,
        predicate: Callable[[Seen], bool],
        *,
        since: int,
        timeout: float,  # noqa: ASYNC109 - every wait of the demo has its own deadline
    ) -> Seen:
        """The first message after ``since`` matching ``predicate``; DemoFailure after ``timeout``."""
        found: list[Seen] = []
        reason: list[str] = []

        def ready() -> bool:
            hit = self.find(predicate, since)
            if hit is not None:
                found.append(hit)
                return True
            problem = self._abort()
            if problem is not None:
                reason.append(problem)
                return True
            return False

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(ready)
        except TimeoutError:
            raise DemoFailure(f"{what}: nothing within {timeout:g} s") from None
        if found:
            return found[0]
        raise DemoFailure(f"{what}: {reason[0]}")
