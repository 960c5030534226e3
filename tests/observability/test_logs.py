"""Runtime log records carry topic, channel, envelope id and correlation id as ``extra``
fields; ``MQTT_LOG_FORMAT=json`` writes them as one JSON object per line."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from otel_support import Otel
from support.acl import deny_topics_config

from mqttwire import ConfigError, MessageMeta, MQTTClient, MQTTClientConfig
from mqttwire.observability.logs import MAX_FIELD, JsonFormatter, configure_logging, log_fields
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient
from tars_mqtt.models import FinalTranscript


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("json", "INFO", stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


async def _until(condition: object) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110 - log records have no event
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 30)


@pytest.mark.integration
async def test_invalid_payload_and_handler_failure_records_carry_the_message_fields(
    mqtt_broker: MosquittoBroker, otel: Otel, json_log: io.StringIO
) -> None:
    config = MQTTClientConfig(url=mqtt_broker.url, client_id="listener", protocol="5")
    failed = asyncio.Event()

    async with (
        TarsClient(config, telemetry=otel.telemetry) as tars,
        TarsClient(
            MQTTClientConfig(url=mqtt_broker.url, client_id="talker", protocol="5")
        ) as talker,
        MQTTClient(MQTTClientConfig(url=mqtt_broker.url, client_id="raw")) as raw,
    ):

        async def boom(msg: FinalTranscript, meta: MessageMeta) -> None:
            failed.set()
            raise RuntimeError("handler bug")

        await tars.subscribe_stt_final(boom)
        envelope_id = await talker.publish_stt_final(
            FinalTranscript(text="hi"), correlation_id="c-1"
        )
        await asyncio.wait_for(failed.wait(), 30)
        await raw.publish("stt/final", b"not json", qos=1)
        await _until(lambda: tars.stats.invalid["stt_final"] == 1)
        await _until(lambda: "handler bug" in json_log.getvalue())

    records = _lines(json_log)
    invalid = next(r for r in records if str(r["message"]).startswith("dropped invalid message"))
    assert invalid["logger"] == "mqttwire.typed"
    assert invalid["topic"] == "stt/final"
    assert invalid["channel"] == "stt_final"
    assert len(str(invalid["trace_id"])) == 32  # logged inside the handler's span
    failure = next(r for r in records if str(r["message"]).startswith("handler "))
    assert failure["logger"] == "mqttwire.dispatch"
    assert failure["level"] == "ERROR"
    assert failure["topic"] == "stt/final"
    assert failure["subscription"] == "stt/final"
    assert failure["envelope_id"] == envelope_id  # mirrored in the MQTT 5 user properties
    assert "RuntimeError: handler bug" in str(failure["exc_info"])


def test_caplog_sees_the_fields_as_record_attributes(caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("mqttwire.test").warning(
        "x", extra=log_fields(topic="a/b", channel="c", envelope_id="e", correlation_id="k")
    )
    (record,) = caplog.records
    assert (record.topic, record.channel, record.envelope_id, record.correlation_id) == (
        "a/b",
        "c",
        "e",
        "k",
    )
    assert log_fields(topic="t") == {"topic": "t"}


def test_json_lines_escape_and_bound_hostile_values() -> None:
    hostile = 'evil/\n{"level": "CRITICAL"}\x00' + "x" * 10_000
    record = logging.LogRecord(
        "mqttwire.typed", logging.WARNING, __file__, 1, "on %r", (hostile,), None
    )
    record.__dict__.update(log_fields(topic=hostile))
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = orjson.loads(line)
    assert data["level"] == "WARNING"
    assert str(data["topic"]).startswith(hostile[:MAX_FIELD])
    assert len(str(data["topic"])) < MAX_FIELD + 40
    assert len(line) < 6000


def test_log_format_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    try:
        handler = configure_logging(
            stream=stream, environ={"MQTT_LOG_FORMAT": "json", "MQTT_LOG_LEVEL": "debug"}
        )
        assert isinstance(handler.formatter, JsonFormatter)
        assert root.level == logging.DEBUG
        again = configure_logging("text", stream=stream, environ={})
        assert [h for h in root.handlers if h.get_name() == "mqttwire"] == [again]
        assert not isinstance(again.formatter, JsonFormatter)
        root.removeHandler(again)
    finally:
        root.setLevel(level)
    with pytest.raises(ConfigError) as error:
        configure_logging(environ={"MQTT_LOG_FORMAT": "xml"})
    assert error.value.variable == "MQTT_LOG_FORMAT"
    with pytest.raises(ConfigError) as error:
        configure_logging(environ={"MQTT_LOG_LEVEL": "loud"})
    assert error.value.variable == "MQTT_LOG_LEVEL"


@pytest.mark.integration
async def test_a_refused_subscription_is_logged_with_its_filter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = MosquittoBroker(extra_config=deny_topics_config(tmp_path, ["forbidden/#"]))
    broker.start()
    try:
        config = MQTTClientConfig(url=broker.url, client_id="denied", protocol="5")
        client = MQTTClient(config)

        async def never(payload: bytes) -> None:
            raise AssertionError("not subscribed")

        await client.subscribe("forbidden/x", never)  # before connect: made on connect
        with caplog.at_level(logging.ERROR, logger="mqttwire.client"):
            async with client:
                pass
    finally:
        broker.close()
    (record,) = [r for r in caplog.records if "refused subscription" in r.getMessage()]
    assert record.subscription == "forbidden/x"
