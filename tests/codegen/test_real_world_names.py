"""Documents written by other teams generate: names come from one function that agrees with
the model generator, untitled inline payloads are named from their channel, ``default: null``
does not make a non-Optional field, and the generated package passes ``mypy --strict``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from codegen_support import REPO

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.models_gen import generate_models
from mqttwire_codegen.naming import class_name_from, snake_case
from mqttwire_codegen.pipeline import generate_package

SMART_HOME = REPO / "tests" / "golden" / "smart_home_v26"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alarm_state", "AlarmState"),
        ("Gate_Command", "GateCommand"),
        ("RFD40 reader", "RFD40Reader"),
        ("RFD40_tag_read", "RFD40TagRead"),
        ("Comunicación", "Comunicacion"),
        ("Straße", "Strasse"),
        ("LLMRequest", "LLMRequest"),
        ("lightMeasured", "LightMeasured"),
        ("turn on/off", "TurnOnOff"),
        ("2fa code", "N2faCode"),
    ],
)
def test_class_names_are_what_the_model_generator_emits(text: str, expected: str) -> None:
    assert class_name_from(text) == expected
    source = generate_models(
        {expected: {"type": "object", "properties": {"a": {"type": "string"}}}}
    )
    assert f"class {expected}(BaseModel)" in source


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RFD40Reader", "rfd40_reader"),
        ("AudioFFTData", "audio_fft_data"),
        ("Comunicación/estado", "comunicacion_estado"),
        ("tts/say", "tts_say"),
    ],
)
def test_snake_case_keeps_acronyms_and_transliterates(text: str, expected: str) -> None:
    assert snake_case(text) == expected


def test_untitled_inline_payloads_are_named_from_their_channel(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        """
asyncapi: 2.6.0
info: {title: Lockers, version: '1'}
servers: {b: {url: 'localhost', protocol: mqtt}}
channels:
  locker/{id}/open:
    parameters: {id: {schema: {type: string}}}
    publish: {message: {payload: {type: object, properties: {at: {type: integer}}}}}
  locker/{id}/state:
    parameters: {id: {schema: {type: string}}}
    publish:
      operationId: lockerState
      message: {payload: {type: object, properties: {open: {type: boolean}}}}
    subscribe:
      message: {payload: {type: object, properties: {open: {type: boolean}}}}
"""
    )
    contract, _ = load_contract(path)
    names = {ch.id: [m.class_name for m in ch.messages] for ch in contract.channels}
    # the same inline schema in both directions of a channel is one model
    assert names == {
        "locker/{id}/open": ["LockerIdOpenMessage"],
        "locker/{id}/state": ["LockerIdStateMessage"],
    }


def test_default_null_on_a_non_nullable_property_is_dropped() -> None:
    source = generate_models(
        {"Note": {"type": "object", "properties": {"text": {"type": "string", "default": None}}}}
    )
    assert "text: Annotated[str | None, Field(exclude_if=omit_none)] = None" in source


def test_golden_smart_home_is_what_the_generator_writes() -> None:
    generated = generate_package(SMART_HOME / "contract.yaml", "smart_home_v26_client")
    models = generated.files["models.py"]
    for name in ("AlarmState", "HomeRoomLightMessage", "HomeDoorMessage", "Color"):
        assert f"class {name}(" in models


def test_generated_smart_home_package_passes_mypy_strict(tmp_path: Path) -> None:
    ini = tmp_path / "mypy.ini"
    ini.write_text("[mypy]\nstrict = True\nplugins = pydantic.mypy\n")
    expected = SMART_HOME / "expected"
    args = [sys.executable, "-m", "mypy", "--config-file", str(ini), "--no-incremental"]
    args += ["-p", "smart_home_v26_client"]
    env = {"MYPYPATH": f"{expected}:{REPO / 'runtime'}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=expected, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


def test_qos_and_retain_in_a_message_binding_are_honoured_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        """
asyncapi: 2.6.0
info: {title: Wear, version: '1'}
servers: {b: {url: localhost, protocol: mqtt}}
channels:
  watch/hr:
    subscribe:
      message:
        bindings: {mqtt: {qos: 1, retain: true}}
        payload: {type: object, properties: {bpm: {type: integer}}}
  watch/steps:
    subscribe:
      bindings: {mqtt: {qos: 2}}
      message:
        bindings: {mqtt: {qos: 1}}
        payload: {type: object, properties: {n: {type: integer}}}
  watch/multi:
    subscribe:
      message:
        oneOf:
          - bindings: {mqtt: {qos: 2}}
            payload: {type: object, properties: {a: {type: integer}}}
          - bindings: {mqtt: {qos: 2}}
            payload: {type: object, properties: {b: {type: integer}}}
          - bindings: {mqtt: {qos: 0, retain: true}}
            payload: {type: object, properties: {c: {type: integer}}}
"""
    )
    contract, diags = load_contract(path)
    hr, steps, multi = contract.channels
    assert (hr.publish_policy.qos, hr.publish_policy.retain, hr.subscribe_policy.qos) == (
        1,
        True,
        1,
    )
    assert steps.publish_policy.qos == 2  # the operation's binding wins
    assert (multi.publish_policy.qos, multi.publish_policy.retain) == (2, False)  # the first
    warnings = {
        d.location.pointer: d.message for d in diags if d.rule == "message-binding-delivery"
    }
    # honoured: said once, where it is written; not honoured: said too, never dropped silently
    assert warnings == {
        "/channels/watch~1hr/subscribe/message/bindings/mqtt": (
            "channel 'watch/hr': qos 1 and retain True come from the message's MQTT binding; "
            "AsyncAPI puts them on the operation"
        ),
        "/channels/watch~1steps/subscribe/message/bindings/mqtt": (
            "channel 'watch/steps': qos 1 and retain False in the binding of message "
            "WatchStepsMessage are ignored: the channel uses qos 2 and retain False from the "
            "operation's binding"
        ),
        "/channels/watch~1multi/subscribe/message/oneOf/0/bindings/mqtt": (
            "channel 'watch/multi': qos 2 and retain False come from the message's MQTT "
            "binding; AsyncAPI puts them on the operation"
        ),
        "/channels/watch~1multi/subscribe/message/oneOf/2/bindings/mqtt": (
            "channel 'watch/multi': qos 0 and retain True in the binding of message "
            "WatchMultiMessage3 are ignored: the channel uses qos 2 and retain False from the "
            "binding of message WatchMultiMessage"
        ),
    }
    # the honoured values are what the generated client publishes with
    channels_py = generate_package(path, "wear").files["channels.py"]
    hr_spec = channels_py[channels_py.index("CH_WATCH_HR:") : channels_py.index("CH_WATCH_STEPS:")]
    assert "publish_qos=1," in hr_spec and "publish_retain=True," in hr_spec


def test_generated_files_and_folders_follow_the_umask(tmp_path: Path) -> None:
    import os
    import stat

    from mqttwire_codegen.commands.docs import write_atomic
    from mqttwire_codegen.writer import write_package

    old = os.umask(0o022)
    try:
        write_package({"__init__.py": "", "sub/x.py": "x = 1\n"}, tmp_path / "pkg")
        write_atomic(tmp_path / "docs" / "topics.md", "# topics\n")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "pkg") == 0o755 and mode(tmp_path / "pkg" / "sub") == 0o755
    assert mode(tmp_path / "pkg" / "sub" / "x.py") == 0o644
    assert mode(tmp_path / "docs" / "topics.md") == 0o644


def test_percent_encoded_ref_fragments_load_like_a_faststream_export() -> None:
    contract, _ = load_contract(REPO / "tests" / "codegen" / "data" / "faststream_style_v3.yaml")
    classes = {ch.topic.address: [m.class_name for m in ch.messages] for ch in contract.channels}
    assert classes == {"gate/command": ["GateCommand"], "gate/state": ["GateState"]}
    assert {op.action for op in contract.operations} == {"send", "receive"}


def test_a_real_faststream_export_loads_with_its_percent_encoded_refs() -> None:
    """``faststream docs gen`` output, unedited (tests/codegen/data/faststream_export/README.md):
    its ``$ref`` fragments are percent-encoded (``gate.%7Bgate_id%7D.state:Publisher``); every
    one resolves, and the channels keep their addresses, parameters, models and actions
    (generated, imported and type-checked in test_corpus_generate.py)."""
    path = REPO / "tests" / "codegen" / "data" / "faststream_export" / "asyncapi.json"
    assert "%7Bgate_id%7D" in path.read_text()
    contract, diags = load_contract(path)
    found = {
        ch.topic.address: (
            [m.class_name for m in ch.messages],
            [p.name for p in ch.topic.parameters],
        )
        for ch in contract.channels
    }
    assert found == {
        "gate/{gate_id}/command": (["GateCommand"], ["gate_id"]),
        "gate/{gate_id}/state": (["GateState"], ["gate_id"]),
        "parking/levels": (["OnLevelMessagePayload"], []),
    }
    actions = {op.channel_id: op.action for op in contract.operations}
    assert actions == {
        "gate.{gate_id}.command:OnGateCommand": "receive",
        "parking.levels:OnLevel": "receive",
        "gate.{gate_id}.state:Publisher": "send",
    }
    assert {d.rule for d in diags} == {"channel-parameters-missing"}


@pytest.mark.parametrize(
    ("name", "content", "rule", "says"),
    [
        # text that YAML reads as a plain string
        ("reading.avsc.txt", b"record Reading { double celsius; }\n", "invalid-ref", "not a YAML"),
        ("reading.proto", b'syntax = "proto3";\nmessage R { double c = 1; }\n', "invalid-ref", ""),
        # binary content: said in our words, not the YAML reader's
        ("reading.png", b"\x89PNG\r\n\x1a\n\x00\xff", "invalid-ref", "binary content at byte 0"),
        # Markdown (RuterNo__adt-doc refers to .md descriptions): not a YAML document at all
        (
            "notes.md",
            b"### Gate message\n| Field | Value |\n|---|---|\n",
            "parse-error",
            "notes.md: not a YAML/JSON document (read as YAML, line 2",
        ),
        # a YAML file with a syntax error: its own line and column, at the $ref
        ("reading.yaml", b"type: object\nproperties: [\n", "parse-error", "line 3, column 1"),
    ],
)
def test_a_ref_to_a_file_that_is_not_yaml_or_json_is_reported_where_it_is_referenced(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    rule: str,
    says: str,
) -> None:
    from mqttwire_codegen.cli import main
    from mqttwire_codegen.diagnostics import ContractError

    (tmp_path / name).write_bytes(content)
    path = tmp_path / "api.yaml"
    path.write_text(
        f"""
asyncapi: 3.0.0
info: {{title: T, version: '1'}}
servers: {{b: {{host: localhost, protocol: mqtt}}}}
channels:
  readings:
    address: readings
    messages:
      reading: {{payload: {{$ref: './{name}'}}}}
"""
    )
    with pytest.raises(ContractError) as info:
        load_contract(path)
    [diag] = [d for d in info.value.diagnostics if name in d.message]
    assert diag.rule == rule and says in diag.message
    assert diag.location.file == path.resolve()
    assert diag.location.pointer == "/channels/readings/messages/reading/payload/$ref"
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    # the line of the $ref in the referencing file; nothing of PyYAML's own wording
    assert f"{path.resolve()}:9:/channels/readings/messages/reading/payload/$ref: error" in err
    assert "<byte string>" not in err and "octet" not in err and "Traceback" not in err


def test_a_misspelt_keyword_is_an_error_with_file_line_and_pointer(tmp_path: Path) -> None:
    from mqttwire_codegen.diagnostics import ContractError

    path = tmp_path / "parking.yaml"
    path.write_text(
        """asyncapi: 3.0.0
info: {title: Parking, version: '1'}
servers: {b: {host: localhost, protocol: mqtt}}
channels:
  gate:
    adress: parking/gate
    messages:
      m: {payload: {type: object}}
operations:
  openGate:
    action: send
    chanel: {$ref: '#/channels/gate'}
"""
    )
    with pytest.raises(ContractError) as info:
        load_contract(path)
    typos = [d for d in info.value.diagnostics if "unknown property" in d.message]
    assert [(d.location.pointer, d.line, d.hint) for d in typos] == [
        ("/channels/gate/adress", 6, "did you mean 'address'?"),
        ("/operations/openGate/chanel", 12, "did you mean 'channel'?"),
    ]
    assert typos[0].render().startswith(f"{path.resolve()}:6:/channels/gate/adress: error")


def test_model_generator_warnings_become_diagnostics_and_quiet_silences_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    from mqttwire_codegen.cli import main

    path = tmp_path / "fmt.yaml"
    path.write_text(
        """
asyncapi: 2.6.0
info: {title: Fmt, version: '1'}
servers: {b: {url: localhost, protocol: mqtt}}
channels:
  a:
    subscribe:
      message:
        payload: {type: object, properties: {s: {type: string, format: weird}}}
"""
    )
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        generated = generate_package(path, "fmt")
    assert [w for w in leaked if "not understood" in str(w.message)] == []
    [note] = [d for d in generated.warnings if d.rule == "model-generator"]
    assert "format of 'weird' not understood" in note.message
    # where it is used, not the document root: the warning itself does not say
    assert note.location.pointer == "/channels/a/subscribe/message/payload"
    assert note.message.endswith("(first used by message AMessage of channel 'a')")
    capsys.readouterr()
    assert main(["generate", str(path), "--package", "fmt", "--out", str(tmp_path), "-q"]) == 0
    assert "not understood" not in capsys.readouterr().err
    assert main(["generate", str(path), "--package", "fmt", "--out", str(tmp_path)]) == 0
    assert "[model-generator] payload models: format of 'weird'" in capsys.readouterr().err
    # validate takes -q too
    warned = tmp_path / "warned.yaml"
    warned.write_text(
        "asyncapi: 3.0.0\ninfo: {title: W, version: '1'}\n"
        "servers: {b: {host: localhost, protocol: mqtt}}\n"
        "channels: {c: {address: 'a/{id}', messages: {m: {payload: {type: object}}}}}\n"
    )
    assert main(["validate", str(warned)]) == 0
    assert "[channel-parameters-missing]" in capsys.readouterr().err
    assert main(["validate", str(warned), "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_standard_request_reply_diagnostics() -> None:
    """Standard correlationId needs no extension; what is missing is said once, where it is."""
    contract, diags = load_contract(REPO / "tests" / "golden" / "rpc_standard_v3" / "contract.yaml")
    assert {op.id: op.reply.correlation for op in contract.requests if op.reply} == {
        "sendCommand": "$message.payload#/request_id",
        "openDoor": "$message.header#/correlationId",
        "ping": "correlation-data",
    }
    by_rule: dict[str, list[str]] = {}
    for d in diags:
        by_rule.setdefault(d.rule, []).append(d.location.pointer)
    assert by_rule["correlation-undeclared"] == ["/operations/ping/reply"]
    assert sorted(by_rule["reply-qos-undeclared"]) == [
        "/operations/openDoor/reply",
        "/operations/ping/reply",
        "/operations/sendCommand/reply",
    ]


def test_untitled_one_of_payloads_of_a_channel_are_numbered(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        """
asyncapi: 2.6.0
info: {title: Readers, version: '1'}
servers: {b: {url: localhost, protocol: mqtt}}
channels:
  reader/event:
    publish:
      message:
        oneOf:
          - payload: {type: object, properties: {a: {type: string}}}
          - payload: {type: object, properties: {b: {type: integer}}}
"""
    )
    contract, _ = load_contract(path)
    [channel] = contract.channels
    assert [m.class_name for m in channel.messages] == [
        "ReaderEventMessage",
        "ReaderEventMessage2",
    ]


@pytest.mark.parametrize("whole_system", [False, True])
def test_methods_follow_the_declared_operations(tmp_path: Path, whole_system: bool) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        f"""
asyncapi: 3.0.0
info: {{title: Gates, version: '1'}}
{"x-mqttwire: {whole-system: true}" if whole_system else ""}
servers: {{b: {{host: localhost, protocol: mqtt}}}}
channels:
  command: {{address: gate/command, messages: {{m: {{payload: {{type: object}}}}}}}}
  state: {{address: gate/state, messages: {{m: {{payload: {{type: object}}}}}}}}
  result: {{address: gate/result, messages: {{m: {{payload: {{type: object}}}}}}}}
operations:
  sendCommand:
    action: send
    channel: {{$ref: '#/channels/command'}}
    reply: {{channel: {{$ref: '#/channels/result'}}}}
  watchState: {{action: receive, channel: {{$ref: '#/channels/state'}}}}
"""
    )
    client = generate_package(path, "gates").files["client.py"]
    methods = set(re.findall(r"    (?:async )?def (\w+)\(", client))
    both = whole_system
    # operationIds name the publish/subscribe methods; other methods take the channel id
    assert {"send_command", "request_command"} <= methods
    assert ("subscribe_command" in methods) is both and ("serve_command" in methods) is both
    assert {"watch_state", "on_state"} <= methods and ("publish_state" in methods) is both
    # a reply channel has no operation: both directions
    assert {"publish_result", "subscribe_result", "on_result"} <= methods
    assert "publish_command" not in methods and "subscribe_state" not in methods


def test_nested_objects_with_the_same_property_name_are_named_after_their_holder() -> None:
    inline = {"type": "object", "properties": {"a": {"type": "integer"}}}
    other = {"type": "object", "properties": {"b": {"type": "string"}}}
    source = generate_models(
        {
            "Light": {"type": "object", "properties": {"payload": inline}},
            "Door": {"type": "object", "properties": {"payload": other}},
            "Sensor2": {"type": "object", "properties": {"x": {"type": "integer"}}},
            "Sensor": {"type": "object", "properties": {"y": {"type": "integer"}}},
        }
    )
    classes = re.findall(r"^class (\w+)\(", source, re.MULTILINE)
    assert {"Payload", "DoorPayload", "Sensor", "Sensor2"} <= set(classes)  # requested names kept
    assert "Payload1" not in source
    assert "payload: Annotated[DoorPayload | None" in source


def test_operation_ids_name_methods_unless_they_clash(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        """
asyncapi: 3.0.0
info: {title: Thermo, version: '1'}
servers: {b: {host: localhost, protocol: mqtt}}
channels:
  thermostatSet: {address: thermostat/set, messages: {m: {payload: {type: object}}}}
  other: {address: other, messages: {m: {payload: {type: object}}}}
operations:
  onThermostatSet: {action: receive, channel: {$ref: '#/channels/thermostatSet'}}
  connect: {action: send, channel: {$ref: '#/channels/other'}}
"""
    )
    contract, diags = load_contract(path)
    names = {ch.id: (ch.publish_name, ch.subscribe_name) for ch in contract.channels}
    # onThermostatSet is the decorator's own name: the call form stays subscribe_thermostat_set
    assert names["thermostatSet"][1] == "subscribe_thermostat_set"
    # "connect" is the client's own method: kept as publish_other, with a warning
    assert names["other"][0] == "publish_other"
    assert [d.rule for d in diags if "connect" in d.message] == ["method-name-fallback"]


def test_reserved_method_names_cover_the_client_base_class() -> None:
    """An operationId never names a method that shadows one of ``TypedClient``'s own."""
    from mqttwire.typed import TypedClient
    from mqttwire_codegen.channel_names import CLIENT_API as _CLIENT_API

    public = {name for name in dir(TypedClient) if not name.startswith("_")}
    assert public <= _CLIENT_API


HEADERS_FROM_TRAITS = """
asyncapi: 2.6.0
info: {title: Readers, version: '1'}
servers: {b: {url: localhost, protocol: mqtt}}
channels:
  reader/event:
    publish:
      operationId: readerEvent
      message:
        traits: [{$ref: '#/components/messageTraits/traced'}]
        payload: {type: object, properties: {tag: {type: string}}}
    subscribe:
      operationId: sendEvent
      message:
        traits: [{$ref: '#/components/messageTraits/traced'}]
        payload: {type: object, properties: {tag: {type: string}}}
components:
  messageTraits:
    traced:
      headers:
        type: object
        properties:
          traceId: {type: string}
          hop: {type: integer}
"""


async def test_headers_declared_in_a_message_trait_are_a_typed_argument_sent_on_mqtt5(
    tmp_path: Path,
) -> None:
    """``headers`` that come from a message trait become ``headers=`` (a model of the trait's
    schema) and travel as MQTT 5 user properties; on MQTT 3.1.1 passing them is refused."""
    import importlib
    import typing

    from mqttwire import MessageMeta, NeedsMQTT5Error
    from mqttwire.testing import for_testing, kit_of
    from mqttwire_codegen.writer import write_package

    path = tmp_path / "readers.yaml"
    path.write_text(HEADERS_FROM_TRAITS)
    write_package(generate_package(path, "readers_traits").files, tmp_path / "readers_traits")
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("readers_traits")
    finally:
        sys.path.remove(str(tmp_path))
    models = module.models
    hints = typing.get_type_hints(module.ReadersClient.send_event)
    assert hints["headers"] == models.ReaderEventMessageHeaders | None
    assert set(models.ReaderEventMessageHeaders.model_fields) == {"traceId", "hop"}
    got: list[dict[str, str]] = []

    async def keep(msg: object, meta: MessageMeta) -> None:
        got.append(dict(meta.user_properties))

    async with for_testing(module.ReadersClient, protocol="5") as client:
        await client.reader_event(keep)
        header = models.ReaderEventMessageHeaders(traceId="t1", hop=2)
        await client.send_event(models.ReaderEventMessage(tag="x"), headers=header)
        await kit_of(client).settle()
    assert got == [{"traceId": "t1", "hop": "2"}]
    async with for_testing(module.ReadersClient, protocol="3.1.1") as client:
        with pytest.raises(NeedsMQTT5Error, match="message headers"):
            await client.send_event(models.ReaderEventMessage(tag="x"), headers=header)


def test_a_reply_with_only_a_runtime_address_is_explained(tmp_path: Path) -> None:
    """A reply without ``channel`` (only ``address: {location: $message.header#/replyTo}``)
    says what the reply carries is unknown: the operation still publishes, no request method,
    and a warning at the reply that says what to add."""
    path = tmp_path / "rpc.yaml"
    path.write_text(
        """
asyncapi: 3.0.0
info: {title: Rpc, version: '1.0.0'}
servers: {b: {host: localhost, protocol: mqtt}}
channels:
  ping:
    address: diag/ping
    messages:
      ping: {payload: {type: object, required: [n], properties: {n: {type: integer}}}}
operations:
  ping:
    action: send
    channel: {$ref: '#/channels/ping'}
    bindings: {mqtt: {qos: 1}}
    reply:
      address:
        location: $message.header#/replyTo
"""
    )
    contract, diags = load_contract(path)
    assert not [op for op in contract.requests if op.reply]
    [warning] = [d for d in diags if d.rule == "reply-without-channel"]
    assert warning.location.pointer == "/operations/ping/reply"
    assert "reply names no channel" in warning.message and "reply channel" in warning.hint
    client = generate_package(path, "rpc_only_address").files["client.py"]
    assert "async def ping(" in client and "async def request_" not in client


def test_the_defaults_docs_contract_md_states_are_the_generators(tmp_path: Path) -> None:
    """docs/contract.md "Defaults of the generator": a contract that says nothing gets no
    envelope, QoS 0 not retained, JSON, and ``publish_``/``subscribe_<channel>`` methods."""
    docs = " ".join((REPO / "docs" / "contract.md").read_text().split())
    for sentence in (
        "**Envelope:** none. Payloads are bare unless `x-envelope: true`",
        "**Content type:** JSON.",
        "**Delivery:** QoS 0, not retained, unless the operation's `bindings.mqtt` says otherwise.",
        "without one, `publish_<channel>` / `subscribe_<channel>`.",
    ):
        assert sentence in docs, sentence
    path = tmp_path / "plain.yaml"
    path.write_text(
        """
asyncapi: 3.0.0
info: {title: Plain, version: '1'}
servers: {b: {host: localhost, protocol: mqtt}}
channels:
  spots: {address: parking/spots, messages: {m: {payload: {type: object}}}}
"""
    )
    contract, _ = load_contract(path)
    [channel] = contract.channels
    assert channel.envelope is False and not any(m.envelope for m in channel.messages)
    assert (channel.publish_policy.qos, channel.publish_policy.retain) == (0, False)
    assert channel.subscribe_policy.qos == 0
    assert contract.default_content_type is None and channel.messages[0].content_type is None
    client = generate_package(path, "plain").files["client.py"]
    assert "async def publish_spots(" in client and "async def subscribe_spots(" in client
    assert "bare JSON" in client
