"""OpenTelemetry with the generated TARS client: one trace across services, and metrics.

Run against a broker:  python observability.py mqtt://127.0.0.1:1883
Needs the OpenTelemetry SDK (``pip install opentelemetry-sdk``); a real service exports with
OTLP or Prometheus instead of keeping the data in memory (see the guide).
"""

from __future__ import annotations

import asyncio
import sys

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mqttwire import MessageMeta, MQTTClientConfig
from mqttwire.observability import Telemetry
from tars_mqtt import TarsClient
from tars_mqtt.models import FinalTranscript, TtsSay

# 1. Providers (in memory here); one Telemetry serves every client of the process.
spans = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
reader = InMemoryMetricReader()
telemetry = Telemetry(tracer_provider, MeterProvider(metric_readers=[reader]))


def client(url: str, name: str) -> TarsClient:
    config = MQTTClientConfig(url=url, client_id=name, protocol="5")  # 5: the trace travels
    return TarsClient(config, telemetry=telemetry)


def tree(span: ReadableSpan, children: dict[int, list[ReadableSpan]], depth: int = 0) -> None:
    print("  " * depth + span.name)
    for child in children.get(span.context.span_id, []):
        tree(child, children, depth + 1)


async def main(url: str) -> None:
    stt, router, tts = client(url, "stt"), client(url, "router"), client(url, "tts")
    spoken = asyncio.Event()

    # 2. Services as usual: a publish inside a handler continues the handler's trace.
    @router.on_stt_final
    async def heard(msg: FinalTranscript, meta: MessageMeta) -> None:
        await router.publish_tts_say(TtsSay(text=msg.text.upper()))

    @tts.on_tts_say
    async def speak(say: TtsSay, meta: MessageMeta) -> None:
        spoken.set()

    async with tts, router, stt:
        await stt.publish_stt_final(FinalTranscript(text="hello"))
        await asyncio.wait_for(spoken.wait(), 10)
    # (leaving ``async with`` lets the handlers finish, so every span has ended)

    # 3. What was recorded.
    finished = spans.get_finished_spans()
    traces = {s.context.trace_id for s in finished}
    print(f"spans: {len(finished)}, one trace: {len(traces) == 1}")
    children: dict[int, list[ReadableSpan]] = {}
    for span in finished:
        if span.parent is not None:
            children.setdefault(span.parent.span_id, []).append(span)
    (root,) = [s for s in finished if s.parent is None]
    tree(root, children)
    data = reader.get_metrics_data()
    assert data is not None
    for metric in data.resource_metrics[0].scope_metrics[0].metrics:
        if metric.name == "messaging.client.sent.messages":
            counts = sorted(
                f"{dict(p.attributes or {})['messaging.destination.template']!s}={p.value}"
                for p in metric.data.data_points
                if isinstance(p, NumberDataPoint)
            )
            print("sent:", " ".join(counts))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "mqtt://127.0.0.1:1883"))
