"""The demo scenario: start services, inject utterances, kill and restart tts, summarize.

Every wait has a deadline; the whole run has one more (``--timeout``). A failure prints which
step did not happen, the tail of each service's output, and exits 1. SIGINT/SIGTERM stop the
scenario, shut every service down (SIGTERM, then SIGKILL after a grace period), disconnect the
monitor and stop the broker the demo started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from mqttwire import ConnectError, MQTTClientConfig, MQTTWireError
from mqttwire.url import redact_url
from tars_demo.embedded import DefaultBroker
from tars_demo.monitor import DemoFailure, Monitor, Seen, Timeline
from tars_demo.watching import DemoWatch
from tars_mqtt import TarsClient
from tars_mqtt.models import FinalTranscript, TtsStatus

__all__ = ["SERVICE_NAMES", "UTTERANCES", "DemoOptions", "run_demo"]

SERVICE_NAMES = ("router", "llm", "tts")
UTTERANCES = (
    "hello tars",
    "what's the weather like today",
    "tell me a joke",
    "what is your honesty setting",
    "hi again",
)
RECOVERY_UTTERANCE = "are you back"

HEALTH_TIMEOUT = 20.0
"""Seconds for a service to start (Python, imports, connect) and announce ok=true."""
STEP_TIMEOUT = 10.0
"""Seconds for one utterance to go all the way round, or for the will to arrive."""
STOP_GRACE = 5.0
"""Seconds a service gets to shut down after SIGTERM before it is killed."""


@dataclass(frozen=True)
class DemoOptions:
    utterances: int = 3
    timeout: float = 60.0
    verbose: bool = False
    keep_running: bool = False
    prefix: str = "demo-"


@dataclass
class _Service:
    name: str
    client_id: str
    process: asyncio.subprocess.Process
    started_wall: float
    output: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    expected_exit: bool = False
    reader: asyncio.Task[None] | None = None


class Services:
    """The demo's child processes (one process tree: they are our children and their stdin is
    a pipe from us, so they stop when we go away)."""

    def __init__(self, url: str, options: DemoOptions, timeline: Timeline, monitor: Monitor):
        self.url = url
        self.options = options
        self.timeline = timeline
        self.monitor = monitor
        self.running: dict[str, _Service] = {}
        self.history: list[_Service] = []

    def client_id(self, name: str) -> str:
        return f"{self.options.prefix}{name}"

    async def start(self, name: str) -> _Service:
        env = dict(os.environ)
        env.update(
            MQTT_URL=self.url,
            MQTT_CLIENT_ID=self.client_id(name),
            MQTT_ENABLE_HEALTH="true",
            MQTT_SHUTDOWN_TIMEOUT="2",
            MQTT_CONNECT_TIMEOUT="5",
            PYTHONUNBUFFERED="1",
        )
        env.pop("MQTT_SOURCE_NAME", None)
        wall = time.time()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tars_demo.services",
            name,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        service = _Service(name, self.client_id(name), process, wall)
        service.reader = asyncio.get_running_loop().create_task(self._read(service))
        self.running[name] = service
        self.history.append(service)
        return service

    async def _read(self, service: _Service) -> None:
        stream = service.process.stdout
        if stream is not None:
            while line := await stream.readline():
                text = line.decode(errors="replace").rstrip()
                service.output.append(text)
                if self.options.verbose:
                    self.timeline.say(f"          | {text}")
        code = await service.process.wait()
        if not service.expected_exit:
            service.output.append(f"(exited with code {code})")
            await self.monitor.poke()

    def crashed(self) -> str | None:
        """Why waiting is pointless: a service we did not stop has exited."""
        for service in self.running.values():
            code = service.process.returncode
            if code is not None and not service.expected_exit:
                said = next(
                    (
                        f": {line.strip()}"
                        for line in reversed(service.output)
                        if line.strip() and not line.startswith("(exited")
                    ),
                    "",
                )
                return f"service {service.name} exited with code {code}{said}"
        return None

    async def kill(self, name: str) -> _Service:
        """SIGKILL: no shutdown code runs, the broker sees the TCP link drop."""
        service = self.running.pop(name)
        service.expected_exit = True
        with contextlib.suppress(ProcessLookupError):
            service.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(service.process.wait(), STEP_TIMEOUT)
        return service

    async def stop_all(self) -> dict[str, int | None]:
        """SIGTERM every service (graceful: health ``ok=false event=shutdown``), then SIGKILL."""
        services = list(self.running.values())
        self.running.clear()
        for service in services:
            service.expected_exit = True
            if service.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    service.process.send_signal(signal.SIGTERM)
        waits = [asyncio.ensure_future(s.process.wait()) for s in services]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=STOP_GRACE)
            for service in services:
                if service.process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        service.process.kill()
            if pending:
                await asyncio.wait(pending, timeout=STOP_GRACE)
        readers = [s.reader for s in self.history if s.reader is not None]
        for service in self.history:
            if service.process.stdin is not None:
                service.process.stdin.close()
        if readers:
            _, still = await asyncio.wait(readers, timeout=2.0)
            for task in still:
                task.cancel()
        return {s.name: s.process.returncode for s in services}

    def tails(self) -> str:
        chunks = []
        for service in self.history:
            lines = "\n".join(f"    {line}" for line in service.output) or "    (no output)"
            chunks.append(f"  {service.name} (pid {service.process.pid}):\n{lines}")
        return "\n".join(chunks)


class Demo:
    def __init__(
        self,
        broker: DefaultBroker,
        options: DemoOptions,
        out: TextIO,
        watch: DemoWatch | None = None,
    ) -> None:
        self.broker = broker
        self.watch = watch
        self.watching = False
        self.options = options
        self.timeline = Timeline(out, options.prefix)
        config = MQTTClientConfig(
            url=broker.url,
            client_id=f"{options.prefix}monitor",
            connect_timeout=5.0,
            shutdown_timeout=2.0,
        )
        self.tars = TarsClient(config)
        self.monitor = Monitor(self.tars, self.timeline)
        self.services = Services(broker.url, options, self.timeline, self.monitor)
        self.monitor.set_abort_check(self.services.crashed)
        self.spoken: list[str] = []

    # -- steps ---------------------------------------------------------------------------------
    async def run(self) -> None:
        say, phase = self.timeline.say, self.timeline.phase
        await self.monitor.subscribe()
        try:
            await self.tars.connect()
        except ConnectError as exc:
            raise DemoFailure(f"the monitor cannot reach the broker: {exc}") from None
        if self.watch is not None:
            watch_id = f"{self.options.prefix}watch"
            try:
                await self.watch.start(self.broker.url, watch_id, self._publisher_aliases())
            except MQTTWireError as exc:
                raise DemoFailure(f"mqttwire watch cannot start: {exc}") from None
            self.watching = True
            say(
                f"mqttwire watch runs beside the services as {watch_id}: it judges every message "
                f"against {self.watch.contract_path.name} and publishes nothing"
            )
        say(f"monitor connected as {self.options.prefix}monitor; it prints what it receives:")
        say(
            "sender = the envelope's source, QoS = as delivered, latency = since the monitor "
            "published the utterance's stt/final"
        )
        self.timeline.header()

        phase("1. start router, llm and tts; each announces its health (retained, QoS 1)")
        mark = self.monitor.mark()
        for name in SERVICE_NAMES:
            service = await self.services.start(name)
            say(f"{self.timeline.now():7.3f}s  started {name} (pid {service.process.pid})")
        for name in SERVICE_NAMES:
            await self._wait_healthy(name, mark)
        say(f"all {len(SERVICE_NAMES)} services healthy at {self.timeline.now():.2f}s")

        phase("2. utterances: stt/final -> router -> llm (request/reply) -> tts/say -> tts/status")
        for index, text in enumerate(UTTERANCES[: self.options.utterances], start=1):
            await self.utterance(f"utt-{index}", text)

        phase("3. kill tts with SIGKILL: the broker publishes its last will (ok=false)")
        mark = self.monitor.mark()
        killed_at = self.timeline.now()
        say(f"{killed_at:7.3f}s  kill -KILL {self.services.running['tts'].process.pid} (tts)")
        await self.services.kill("tts")
        will = await self.monitor.wait_for(
            "the last will of tts (ok=false on system/health)",
            self._health_of("tts", ok=False),
            since=mark,
            timeout=STEP_TIMEOUT,
        )
        say(
            f"tts is unhealthy: last will received {1000 * (will.at - killed_at):.1f} ms "
            "after the kill"
        )
        self._health_board()

        phase("4. restart tts: health ok again, speech resumes")
        mark = self.monitor.mark()
        restarted_at = self.timeline.now()
        service = await self.services.start("tts")
        say(f"{restarted_at:7.3f}s  restarted tts (pid {service.process.pid})")
        back = await self._wait_healthy("tts", mark)
        say(f"tts recovered: healthy {back.at - restarted_at:.2f} s after the restart")
        self._health_board()
        await self.utterance(f"utt-{self.options.utterances + 1}", RECOVERY_UTTERANCE)
        self._summary()

    def _publisher_aliases(self) -> dict[str, str]:
        """The demo's client ids as the robot's service names the contract's x-publishers use
        (the monitor publishes the transcripts, as stt-worker would)."""
        roles = {"router": "router", "llm": "llm-worker", "tts": "tts-worker"}
        aliases = {self.services.client_id(name): role for name, role in roles.items()}
        aliases[f"{self.options.prefix}monitor"] = "stt-worker"
        return aliases

    async def utterance(self, key: str, text: str) -> None:
        mark = self.monitor.mark()
        self.timeline.injected[key] = self.timeline.now()
        await self.tars.publish_stt_final(FinalTranscript(text=text, utt_id=key, confidence=0.97))
        await self.monitor.wait_for(
            f"utterance {key}: tts/status speaking_end",
            lambda s: (
                s.key == key and isinstance(s.model, TtsStatus) and s.model.event == "speaking_end"
            ),
            since=mark,
            timeout=STEP_TIMEOUT,
        )
        # Every hop must have been seen too (they normally arrived long before speaking_end).
        for topic in ("stt/final", "llm/request", "llm/response", "tts/say"):
            await self.monitor.wait_for(
                f"utterance {key}: {topic}",
                _hop(key, topic),
                since=mark,
                timeout=STEP_TIMEOUT,
            )
        self.spoken.append(key)

    def _health_of(
        self, name: str, *, ok: bool, since_wall: float | None = None
    ) -> Callable[[Seen], bool]:
        topic = f"system/health/{self.services.client_id(name)}"

        def match(seen: Seen) -> bool:
            health = seen.health
            if seen.topic != topic or health is None or health.ok is not ok:
                return False
            # A retained message from an earlier run is older than the process we started.
            return since_wall is None or health.timestamp >= since_wall - 1.0

        return match

    async def _wait_healthy(self, name: str, mark: int) -> Seen:
        service = self.services.running[name]
        return await self.monitor.wait_for(
            f"health of {name} (ok=true on system/health/{service.client_id})",
            self._health_of(name, ok=True, since_wall=service.started_wall),
            since=mark,
            timeout=HEALTH_TIMEOUT,
        )

    def _health_board(self) -> None:
        states = []
        for name in SERVICE_NAMES:
            topic = f"system/health/{self.services.client_id(name)}"
            last = next((s for s in reversed(self.monitor.seen) if s.topic == topic), None)
            health = last.health if last is not None else None
            if health is None:
                states.append(f"{name}: unknown")
            else:
                states.append(f"{name}: {'ok' if health.ok else 'DOWN'} ({health.event or '-'})")
        self.timeline.say("health board: " + " | ".join(states))

    def _summary(self) -> None:
        say = self.timeline.say
        self.timeline.phase("summary")
        seen = self.monitor.seen
        rtts, ends = [], []
        for key in self.spoken:
            request = next(s for s in seen if s.key == key and s.topic == "llm/request")
            reply = next(s for s in seen if s.key == key and s.topic == "llm/response")
            start = next(
                s
                for s in seen
                if s.key == key
                and isinstance(s.model, TtsStatus)
                and s.model.event == "speaking_start"
            )
            rtts.append(1000 * (reply.at - request.at))
            ends.append(1000 * (start.at - self.timeline.injected[key]))
        say(f"utterances: {len(self.spoken)} injected, {len(self.spoken)} spoken")
        say(f"request/reply llm/request -> llm/response: {_stats(rtts)}")
        say(f"stt/final published -> tts speaking_start: {_stats(ends)}")
        say(f"invalid payloads dropped by the monitor: {self.tars.stats.invalid_total}")
        if self.tars.stats.invalid_total:
            raise DemoFailure(f"{self.tars.stats.invalid_total} invalid payload(s) on the wire")

    # -- shutdown ------------------------------------------------------------------------------
    async def close(self) -> None:
        if self.services.running:
            self.timeline.phase("5. shutdown: SIGTERM to every service; each says goodbye")
        codes = await self.services.stop_all()
        if codes:
            shown = ", ".join(f"{name} {code}" for name, code in codes.items())
            self.timeline.say(f"stopped services (exit codes: {shown})")
        if self.watch is not None:
            await self.watch.stop()
        if self.watch is not None and self.watching:
            self.timeline.phase("mqttwire watch: what the contract watcher saw on the bus")
            for line in self.watch.summary(self.broker.kind):
                self.timeline.say(line)
        await self.tars.shutdown()


def _hop(key: str, topic: str) -> Callable[[Seen], bool]:
    return lambda seen: seen.key == key and seen.topic == topic


def _stats(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"min {min(values):.1f} ms, median {statistics.median(values):.1f} ms, "
        f"max {max(values):.1f} ms"
    )


async def run_demo(
    broker: DefaultBroker,
    options: DemoOptions,
    out: TextIO | None = None,
    *,
    watch: DemoWatch | None = None,
) -> int:
    """The whole demo on ``broker``; returns the exit code. Prints to ``out`` (stdout).

    ``watch`` (``--watch``) runs ``mqttwire watch`` beside the services and prints its summary.
    """
    out = sys.stdout if out is None else out
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    signals: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if not signals:
            signals.append(sig)
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    demo = Demo(broker, options, out, watch)
    started = time.monotonic()
    code = 1
    scenario_done = False
    failure: str | None = None
    try:
        try:
            async with asyncio.timeout(options.timeout):
                await demo.run()
            scenario_done = True
            code = 0
            if options.keep_running:
                demo.timeline.say(
                    f"\nscenario complete in {time.monotonic() - started:.1f} s; services keep "
                    f"running on {redact_url(broker.url)}: publish on stt/final to talk to them; Ctrl-C (or "
                    "SIGTERM) stops everything"
                )
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            if not signals:
                raise
            task.uncancel()
            print(f"\n{signals[0].name} received; shutting everything down", file=out)
            code = 0 if scenario_done else 128 + signals[0].value
        except TimeoutError:
            failure = f"the demo did not finish within {options.timeout:g} s (--timeout)"
        except DemoFailure as exc:
            failure = str(exc)
        except MQTTWireError as exc:  # e.g. the broker refused a subscription (ACL)
            failure = f"{type(exc).__name__}: {exc}"
    finally:
        await demo.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if code == 0:
        print(f"demo OK in {time.monotonic() - started:.1f} s", file=out, flush=True)
    elif failure is not None:
        out.flush()
        if demo.services.history:
            print("\nservice output (last lines):\n" + demo.services.tails(), file=sys.stderr)
        print(f"\ndemo FAILED: {failure}", file=sys.stderr, flush=True)
    return code
