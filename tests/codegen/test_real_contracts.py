"""Real MQTT AsyncAPI documents from public projects (tests/data/real_contracts, MANIFEST.json):
every one the official parser accepts generates a package that imports and passes one combined
``mypy --strict`` run; every one it rejects gets diagnostics from ``mqttwire validate`` (exit 2, no
traceback); on a sample, what the generated client publishes to a real Mosquitto validates
against the document's own JSON Schemas. Known gaps are listed explicitly below."""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import itertools
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml
from codegen_support import REPO, corpus_rows, mypy_strict
from shared_data import CORPUS
from wire_contract import ContractWire

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker
from mqttwire_codegen.api import load_contract
from mqttwire_codegen.cli import main
from mqttwire_codegen.diagnostics import ContractError
from mqttwire_codegen.pipeline import generate_package
from mqttwire_codegen.writer import write_package


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "real_contracts", REPO / "tools" / "real_contracts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
DATA: Path = tool.DATA
ROWS: list[dict[str, Any]] = tool.load_manifest()
VALID = [r["file"] for r in ROWS if r["parser"] == "VALID"]
INVALID = [r["file"] for r in ROWS if r["parser"] == "INVALID"]

# Valid documents that do not generate today: file -> rule id of the diagnostic. Keep it short.
KNOWN_GENERATE_FAILURES: dict[str, str] = {}
# Valid documents whose client has no channel at all: file -> rule id of the warning.
KNOWN_EMPTY_CLIENTS: dict[str, str] = {}
# Documents the official parser rejects but `mqttwire validate` accepts: file -> parser rule.
KNOWN_INVALID_ACCEPTED: dict[str, str] = {}
# Valid documents whose generated package fails `mypy --strict`: file -> mypy error codes.
KNOWN_MYPY_FAILURES: dict[str, str] = {}
# Topics on which the generated client publishes payloads its contract forbids: file -> topics.
KNOWN_WIRE_FAILURES: dict[str, set[str]] = {}
# What a generated client of these publishes on a real broker is checked against the contract.
WIRE_SAMPLE = [
    "Kamuyin__schachroboter/asyncapi.yaml",
    "MarcoChavezB__Lockity_DOC_MQTT/asyncapi.yaml",
    "AA5123__zebra-rfd40-rfd90-iot-docs/docs/asyncapi.yaml",
    "lafette21__smart-gardening/api/asyncapi.yaml",
    "eclipse-canought__can-translator/docs/asyncapi.yml",
]
_ids = itertools.count()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Every valid document generated in-process into one directory; by file, the rules of
    the diagnostics of those that fail, and of the warnings of those without channels."""
    out = tmp_path_factory.mktemp("real_contracts")
    outcome: dict[str, str] = {}
    for file in VALID:
        pkg = tool.package_name(file)
        try:
            result = generate_package(DATA / file, pkg)
        except ContractError as exc:
            outcome[file] = "fails: " + ", ".join(sorted(exc.rules))
            continue
        write_package(result.files, out / pkg)
        if not result.contract.client_channels:
            outcome[file] = "empty: " + ", ".join(sorted({w.rule for w in result.warnings}))
    return out, outcome


@pytest.fixture
def on_path(generated: tuple[Path, dict[str, str]]) -> Iterator[Path]:
    sys.path.insert(0, str(generated[0]))
    try:
        yield generated[0]
    finally:
        sys.path.remove(str(generated[0]))


def test_corpus_is_kept_with_origin_and_licence() -> None:
    assert len(ROWS) >= 40 and len(VALID) >= 25
    documents = set()
    for path in DATA.rglob("*"):
        if path.suffix in {".yaml", ".yml", ".json"} and path.name != "MANIFEST.json":
            text = path.read_text(encoding="utf-8")
            if re.search(r"""^\s*["']?asyncapi["']?\s*:""", text[:3000], re.M):
                documents.add(path.relative_to(DATA).as_posix())
    assert documents == {r["file"] for r in ROWS}
    for row in ROWS:
        assert (DATA / row["file"]).is_file()
        assert row["file"] == row["repository"].replace("/", "__") + "/" + row["path"]
        assert re.fullmatch(r"[0-9a-f]{40}", row["commit"]), row
        assert row["licence"], row
    licensed = [r for r in ROWS if not r["licence"].startswith("no licence")]
    assert len(licensed) * 2 > len(ROWS)
    unlicensed = {r["licence"] for r in ROWS} - {r["licence"] for r in licensed}
    assert unlicensed == {"no licence file — test data only"}


def test_none_duplicates_the_shared_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.fail(f"asyncapi corpus not available at {CORPUS}")
    shared = {cells[0].split(" (")[0] for cells in corpus_rows().values()}
    assert not shared & {r["repository"] for r in ROWS}


def test_every_valid_document_generates(generated: tuple[Path, dict[str, str]]) -> None:
    expected = {f: "fails: " + rule for f, rule in KNOWN_GENERATE_FAILURES.items()}
    expected |= {f: "empty: " + rule for f, rule in KNOWN_EMPTY_CLIENTS.items()}
    assert generated[1] == expected
    stored = {r["file"]: r["mqttwire"] for r in ROWS if r["parser"] == "VALID"}
    clean = set(VALID) - set(expected) - set(KNOWN_MYPY_FAILURES)
    assert {f for f, result in stored.items() if result == "generates"} == clean


@pytest.mark.parametrize("file", VALID)
def test_generated_package_imports(on_path: Path, file: str) -> None:
    if file in KNOWN_GENERATE_FAILURES:
        assert not (on_path / tool.package_name(file)).exists()
        return
    module = importlib.import_module(tool.package_name(file))
    clients = [name for name in module.__all__ if name.endswith("Client")]
    assert len(clients) == 1
    assert len(module.channels.CHANNELS) >= (0 if file in KNOWN_EMPTY_CLIENTS else 1)


def test_all_generated_packages_pass_mypy_strict(
    generated: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    proc = mypy_strict(generated[0], tmp_path)
    by_package = tool.parse_mypy_errors(proc.stdout)
    failing = {
        file: ", ".join(sorted(by_package[tool.package_name(file)]))
        for file in VALID
        if tool.package_name(file) in by_package
    }
    assert failing == KNOWN_MYPY_FAILURES, proc.stdout[-5000:]
    assert proc.returncode == (1 if KNOWN_MYPY_FAILURES else 0), proc.stdout[-3000:] + proc.stderr
    for file, codes in KNOWN_MYPY_FAILURES.items():
        stored = next(r["mqttwire"] for r in ROWS if r["file"] == file)
        assert stored == f"generates; fails mypy --strict: {codes}"


@pytest.mark.parametrize("file", INVALID)
def test_invalid_document_gets_a_diagnostic(file: str, capsys: pytest.CaptureFixture[str]) -> None:
    row = next(r for r in ROWS if r["file"] == file)
    code = main(["validate", str(DATA / file)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if file in KNOWN_INVALID_ACCEPTED:
        assert code == 0 and row["mqttwire"] == "accepted"
        assert row["parser_first_error"].startswith(KNOWN_INVALID_ACCEPTED[file])
        return
    assert code == 2, err
    rules = row["mqttwire"].removeprefix("rejected: ").split(", ")
    assert rules and all(f"[{rule}]" in err for rule in rules), err
    assert "nothing written" in err


def test_docs_table_is_current() -> None:
    text = tool.DOC.read_text(encoding="utf-8")
    assert tool.render_doc(text, ROWS) == text, "run `python tools/real_contracts.py`"


# -- wire conformance on a real broker ------------------------------------------------------

_STRINGS = {
    "date-time": "2026-12-03T09:30:00Z",
    "date": "2026-12-03",
    "time": "09:30:00Z",
    "email": "someone@example.com",
    "uri": "https://example.com/x",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "ipv4": "192.0.2.1",
}


def example_instance(schema: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    """A value for ``schema`` with every declared property set (the schema's first example,
    first enum value, first ``oneOf`` branch, minimum of a range), to exercise as much of the
    model as possible."""
    if not isinstance(schema, dict) or depth > 8:
        return "example"
    if "$ref" in schema:
        return example_instance(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    for example in schema.get("examples") or []:
        if jsonschema.validators.validator_for(schema)({**schema, "$defs": defs}).is_valid(example):
            return example
    if schema.get("enum"):
        return next((v for v in schema["enum"] if v is not None), None)
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_instance(options[0], defs, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example_instance(part, defs, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        props = schema.get("properties", {})
        value = {name: example_instance(sub, defs, depth + 1) for name, sub in props.items()}
        # required but not declared: any value is allowed, the key must be there
        return {**dict.fromkeys(schema.get("required", []), "example"), **value}
    if kind == "array":
        item = example_instance(schema.get("items", {}), defs, depth + 1)
        return [item] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = _STRINGS.get(schema.get("format", ""), "example")
    return text.ljust(schema.get("minLength", 0), "x")


def document_examples(message: Any) -> list[Any]:
    """The payloads of the message's ``examples`` as the document writes them."""
    location = message.payload_location
    if location is None:
        return []
    node: Any = _yaml(location.file)
    for token in location.pointer.split("/")[1:-1]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node.get(token, {})
    examples = node.get("examples") if isinstance(node, dict) else None
    if not isinstance(examples, list):
        return []
    return [e["payload"] if isinstance(e, dict) and "payload" in e else e for e in examples]


@functools.cache
def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def sample_payload(message: Any, schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The document's first example that fits the schema, else :func:`example_instance`."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    for example in document_examples(message):
        if validator.is_valid(example):
            return example
    return example_instance(schema, defs)


def _param_value(enum: tuple[str, ...] | None, pattern: str | None) -> str:
    if enum:
        return enum[0]
    for candidate in ("dev1", "1", "a", "A1"):
        if pattern is None or re.search(pattern, candidate):
            return candidate
    raise AssertionError(f"no sample value for a topic parameter with pattern {pattern!r}")


def publications(
    module: ModuleType, client: Any, file: str
) -> list[tuple[Any, Any, dict[str, str]]]:
    """(publish method, payload model, topic parameters) for every channel the client sends on;
    each payload is an instance of the message's schema in the contract, checked with jsonschema."""
    ir, _ = load_contract(DATA / file)
    defs = {name: dict(body) for name, body in ir.schema_defs.items()}
    by_address = {ch.topic.address: ch for ch in ir.channels}
    found = []
    for spec in module.channels.CHANNELS.values():
        channel = by_address[spec.topic.address]
        publish = getattr(client, channel.publish_name, None)  # operationId names it, if given
        if publish is None:
            continue
        message = channel.messages[0]
        schema = {**dict(message.payload_schema), "$defs": defs}
        value = sample_payload(message, schema, defs)
        jsonschema.validate(value, schema)  # the sample itself fits the contract
        model = next(
            m.model.model_validate(value) for m in spec.messages if m.event_type == message.name
        )
        params = {
            p.py_name or p.name: _param_value(p.enum, p.pattern) for p in spec.topic.params.values()
        }
        found.append((publish, model, params))
    return found


@pytest.mark.parametrize("file", WIRE_SAMPLE)
async def test_published_samples_validate_on_a_real_broker(
    on_path: Path, mqtt_broker: MosquittoBroker, file: str
) -> None:
    module = importlib.import_module(tool.package_name(file))
    client_class = getattr(module, next(n for n in module.__all__ if n.endswith("Client")))
    wire = ContractWire(DATA / file)

    def config(name: str) -> MQTTClientConfig:
        return MQTTClientConfig(
            url=mqtt_broker.url,
            client_id=f"{name}-{next(_ids)}",
            protocol="3.1.1",
            shutdown_timeout=2.0,
        )

    client = client_class(client=MQTTClient(config("real")))
    listener = MQTTClient(config("listener"))
    seen: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def listen(payload: bytes, meta: MessageMeta) -> None:
        await seen.put((meta.topic, payload))

    try:
        await listener.connect()
        await listener.subscribe("#", listen, qos=1)
        await client.connect()
        sends = publications(module, client, file)
        assert len(sends) >= 1
        for publish, model, params in sends:
            await publish(model, **params)
        received = [await asyncio.wait_for(seen.get(), 10.0) for _ in sends]
    finally:
        await client.shutdown()
        await listener.shutdown()
    broken = {
        topic: errors for topic, payload in received if (errors := wire.errors(topic, payload))
    }
    assert set(broken) == KNOWN_WIRE_FAILURES.get(file, set()), broken
    assert len({topic for topic, _ in received}) >= min(len(sends), 2)


def test_rows_without_channels_are_the_documents_that_are_not_yaml_mappings() -> None:
    for row in ROWS:
        if row["channels"] is None:
            assert row["parser"] == "INVALID"
            try:
                doc = yaml.safe_load((DATA / row["file"]).read_text(encoding="utf-8"))
            except yaml.YAMLError:
                continue
            assert not isinstance(doc, dict), row["file"]


def test_pixelcast_text_fields_take_a_plain_string_and_segments(on_path: Path) -> None:
    """esp32-pixelcast's polymorphic text (``allOf: [$ref: PolymorphicTextField31x8]``, a
    ``oneOf`` of string, object and segment list): every form its contract allows validates."""
    file = "nicolas-codemate__esp32-pixelcast/docs/api/asyncapi.yaml"
    module = importlib.import_module(tool.package_name(file) + ".models")
    schema = yaml.safe_load((DATA / file).parent.joinpath("schemas/common.yaml").read_text())
    forms = ["ATH 73.6K", {"text": "ATH", "color": "#FF8800"}, [{"t": "Vol ", "c": "#888888"}]]
    for value in forms:
        jsonschema.validate(value, {**schema["PolymorphicTextField31x8"], **schema})
        model = module.TrackerUpdateRequest.model_validate({"bottomText": value})
        assert model.model_dump(mode="json", by_alias=True, exclude_none=True)["bottomText"] == (
            value
        )


def test_channels_without_address_are_kept() -> None:
    """AsyncAPI 3: a channel without ``address`` has a topic given at runtime. The IR keeps
    it (address None) with its messages and operations, the client has methods for it that
    take the topic (tests/codegen/test_generate_runtime_address.py), and one informational note per
    channel says so at the channel's own file + pointer."""
    file = "IonTachyon__Internet-of-Things-and-Services/asyncapi.yaml"
    contract, diagnostics = load_contract(DATA / file)
    assert {ch.id: ch.topic.address for ch in contract.channels} == {
        "newelectricinfo": None,
        "highvoltage": None,
    }  # "analyzed" is on the NATS server
    assert all(ch.messages for ch in contract.channels)
    assert {op.channel_id for op in contract.operations} == {"newelectricinfo", "highvoltage"}
    assert contract.client_channels == contract.channels
    assert contract.channels[0].address_text == "newelectricinfo (address given at runtime)"
    found = [d for d in diagnostics if d.rule == "channel-without-address"]
    assert [(d.location.file, d.location.pointer) for d in found] == [
        (DATA / file, "/channels/newelectricinfo"),
        (DATA / file, "/channels/highvoltage"),
    ]
    assert all("take the topic at runtime" in d.message for d in found)
    assert {d.severity for d in found} == {"info"}


def test_a_default_its_schema_rejects_is_an_error_at_its_place() -> None:
    """fraserdickson: ``{type: string, default: 0}`` -- the official parser's
    ``asyncapi2-schema-default``, at the file + JSON pointer of the default."""
    file = "fraserdickson36__4thYearMicrocontrollersWebpageUI/asyncapi.yml"
    with pytest.raises(ContractError) as caught:
        load_contract(DATA / file)
    (error,) = [d for d in caught.value.diagnostics if d.rule == "asyncapi2-schema-default"]
    assert error.location.file == DATA / file
    assert error.location.pointer == "/components/schemas/Potentiometer Trigger/default"
    assert error.line == 133 and "not of type 'string'" in error.message
