"""contracts/mqtt_client_api.yaml against ../shared/tars-interface/catalog.json.

Every catalog topic must map to a contract channel (fixed address, or a value of a parameterized
channel listed in the parameter's `examples`, or a `.../#` wildcard covered by a parameterized
channel), and its QoS, retain, envelope, event types, payload models and publishers/subscribers
must match the contract - or the difference must be recorded.

A recorded reason is an entry of `x-catalog-divergence` (on the operation for `qos.*`/`retain.*`,
on the channel for `envelope`, `event_type`, `payload`) whose `field` names the catalog field,
whose `catalog` value is (or lists) the catalog value, optionally limited to `topic`s, and whose
`reason` also appears in the description of the same object, so that readers of the generated
docs see it too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import _refs, _stem

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
REQUEST_REPLY = {
    "llm_request": "llm_response",
    "memory_query": "memory_results",
    "character_get": "character_result",
    "camera_capture": "camera_image",
    "llm_tool_call_request": "llm_tool_call_result",
}


def normalize_service(name: str) -> list[str]:
    """Catalog service label -> service names used in x-publishers / x-subscribers."""
    if name.startswith("every service"):
        return ["*"]  # every service using the shared MQTTClient with health/heartbeat on
    if name.startswith("ConfigLibrary ("):
        return [s.strip() for s in name[len("ConfigLibrary (") : -1].split(",")]
    if name == "ui (pygame)":
        return [name]
    return [re.sub(r"\s*\(.*\)$", "", name)]


def _norm_ws(text: str) -> str:
    return " ".join(text.split())


def _matches(entry: dict[str, Any], field: str, value: Any, topic: str) -> bool:
    if entry.get("field") != field:
        return False
    cat = entry.get("catalog")
    if not (cat == value or (isinstance(cat, list) and value in cat)):
        return False
    topics = entry.get("topic")
    if topics is None:
        return True
    return topic in (topics if isinstance(topics, list) else [topics])


def recorded(obj: dict[str, Any], field: str, value: Any, topic: str) -> bool:
    return any(_matches(e, field, value, topic) for e in obj.get("x-catalog-divergence", []))


class Contract:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.channels: dict[str, Any] = doc["channels"]
        self.operations: dict[str, Any] = doc["operations"]
        self.messages: dict[str, Any] = doc["components"]["messages"]

    def channel_for(self, topic: str) -> tuple[str, str | None]:
        """Catalog topic -> (channel id, how) ; how: None exact, 'instance', 'wildcard'."""
        for cid, ch in self.channels.items():
            if ch["address"] == topic:
                return cid, None
        for cid, ch in self.channels.items():
            address = ch["address"]
            names = re.findall(r"\{([^}]+)\}", address)
            if not names:
                continue
            if topic.endswith("/#"):
                prefix = topic[:-1]
                if address == prefix + "{" + names[-1] + "}" and len(names) == 1:
                    return cid, "wildcard"
                continue
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(address)) + "$"
            m = re.match(pattern, topic)
            if m:
                for name, value in zip(names, m.groups(), strict=True):
                    examples = ch["parameters"][name].get("examples", [])
                    assert value in examples, (
                        f"{topic}: value {value!r} of {{{name}}} on channel {cid} is not listed "
                        "in the parameter's examples"
                    )
                return cid, "instance"
        raise AssertionError(f"catalog topic {topic!r} has no contract channel")

    def message(self, ref_holder: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ref = ref_holder["$ref"]
        assert ref.startswith("#/components/messages/"), ref
        mid = ref.rsplit("/", 1)[1]
        return mid, self.messages[mid]

    def channel_messages(self, cid: str) -> dict[str, dict[str, Any]]:
        return dict(self.message(r) for r in self.channels[cid]["messages"].values())

    def envelope(self, cid: str, msg: dict[str, Any]) -> bool:
        for level in (msg, self.channels[cid], self.doc):
            if "x-envelope" in level:
                return bool(level["x-envelope"])
        return True

    def send(self, cid: str) -> dict[str, Any]:
        return self.operations[f"publish_{cid}"]

    def receive(self, cid: str) -> dict[str, Any]:
        return self.operations[f"subscribe_{cid}"]


@pytest.fixture(scope="module")
def c(contract: dict[str, Any]) -> Contract:
    return Contract(contract)


def _topics(catalog: dict[str, Any]) -> list[dict[str, Any]]:
    return catalog["topics"]


def test_catalog_has_48_topics(catalog: dict[str, Any]) -> None:
    assert len(_topics(catalog)) == 48


def test_every_catalog_topic_maps_to_a_channel(catalog: dict[str, Any], c: Contract) -> None:
    problems = []
    for rec in _topics(catalog):
        try:
            cid, how = c.channel_for(rec["topic"])
        except AssertionError as exc:
            problems.append(str(exc))
            continue
        if rec["topic_kind"] == "wildcard-subscription":
            assert how == "wildcard", rec["topic"]
        if rec["parameters"]:
            ch = c.channels[cid]
            assert how is None, f"{rec['topic']} must be a channel address of its own"
            for name in rec["parameters"]:
                assert name in ch.get("parameters", {}), f"{cid}: parameter {name} not declared"
            examples = set().union(*(p.get("examples", []) for p in ch["parameters"].values()))
            missing = set(rec["instances"] or []) - examples
            if missing:
                problems.append(f"{cid}: catalog instances {sorted(missing)} not in examples")
    assert not problems, "\n".join(problems)


def test_every_channel_comes_from_the_catalog(catalog: dict[str, Any], c: Contract) -> None:
    covered = {c.channel_for(rec["topic"])[0] for rec in _topics(catalog)}
    assert set(c.channels) == covered, (
        f"channels without catalog topic: {set(c.channels) - covered}"
    )


def test_qos_and_retain_match_or_are_recorded(catalog: dict[str, Any], c: Contract) -> None:
    problems = []
    for rec in _topics(catalog):
        topic = rec["topic"]
        cid, _ = c.channel_for(topic)
        send, recv = c.send(cid), c.receive(cid)
        sq, sr = send["bindings"]["mqtt"]["qos"], send["bindings"]["mqtt"]["retain"]
        rq = recv["bindings"]["mqtt"]["qos"]
        checks = [(send, "qos.publish", q, sq) for q in rec["qos"]["publish"]]
        checks += [(recv, "qos.subscribe", q, rq) for q in rec["qos"]["subscribe"]]
        checks += [(send, "retain.publish", r, sr) for r in rec["retain"]["publish"]]
        if rec["qos"]["documented"] is not None:
            checks.append((send, "qos.documented", rec["qos"]["documented"], sq))
        if rec["retain"]["documented"] is not None:
            checks.append((send, "retain.documented", rec["retain"]["documented"], sr))
        for op, field, value, ours in checks:
            if value != ours and not recorded(op, field, value, topic):
                problems.append(
                    f"{topic}: catalog {field}={value} but contract {ours} on "
                    f"{'publish' if op is send else 'subscribe'}_{cid}, no x-catalog-divergence"
                )
    assert not problems, "\n".join(problems)


def test_event_types_and_envelope_match_or_are_recorded(
    catalog: dict[str, Any], c: Contract
) -> None:
    problems = []
    for rec in _topics(catalog):
        topic = rec["topic"]
        cid, how = c.channel_for(topic)
        channel = c.channels[cid]
        msgs = c.channel_messages(cid).values()
        names = {m["name"] for m in msgs}
        for et in rec["event_types"]:
            if et not in names and not recorded(channel, "event_type", et, topic):
                problems.append(f"{topic}: envelope type {et!r} is no message name on {cid}")
        env = rec["envelope"]
        if env is None:
            continue
        ours = [c.envelope(cid, m) for m in msgs]
        if env == "mixed":
            ok = recorded(channel, "envelope", "mixed", topic)
        elif how is None:
            ok = all(e == env for e in ours) or recorded(channel, "envelope", env, topic)
        else:  # one instance of a shared channel: one of its messages must fit
            ok = env in ours
        if not ok:
            problems.append(f"{topic}: catalog envelope={env}, contract {ours} on {cid}")
    assert not problems, "\n".join(problems)


def test_payload_models_are_on_the_channel_or_recorded(
    catalog: dict[str, Any],
    c: Contract,
    model_index: dict[str, Any],
    schema_by_python: dict[str, str],
) -> None:
    problems = []
    for rec in _topics(catalog):
        topic = rec["topic"]
        cid, _ = c.channel_for(topic)
        payloads = {
            m["payload"]["$ref"].rsplit("/", 1)[1].removesuffix(".json")
            for m in c.channel_messages(cid).values()
        }
        models = [rec["schema"], *rec["alt_schemas"]]
        if rec["observed_schema"] in model_index:
            models.append(rec["observed_schema"])
        for model in models:
            stem = schema_by_python.get(model_index[model]["python"])
            if stem is None:
                problems.append(f"{topic}: model {model} has no contract schema")
            elif stem not in payloads and not recorded(c.channels[cid], "payload", model, topic):
                problems.append(f"{topic}: model {model} ({stem}) is no payload on {cid}")
    assert not problems, "\n".join(problems)


def test_publishers_and_subscribers_are_recorded(catalog: dict[str, Any], c: Contract) -> None:
    problems = []
    for rec in _topics(catalog):
        cid, _ = c.channel_for(rec["topic"])
        ch = c.channels[cid]
        for key, ext in (("publishers", "x-publishers"), ("subscribers", "x-subscribers")):
            want = {n for p in rec[key] for n in normalize_service(p["service"])}
            missing = want - set(ch[ext])
            if missing:
                problems.append(f"{rec['topic']}: {ext} of {cid} lacks {sorted(missing)}")
    assert not problems, "\n".join(problems)


def test_divergences_are_explained_in_descriptions(c: Contract) -> None:
    problems = []
    objects = [(f"channel {k}", v) for k, v in c.channels.items()]
    objects += [(f"operation {k}", v) for k, v in c.operations.items()]
    for where, obj in objects:
        text = _norm_ws(obj.get("description", ""))
        for entry in obj.get("x-catalog-divergence", []):
            assert {"field", "catalog", "contract", "reason"} <= set(entry), (where, entry)
            if _norm_ws(entry["reason"]) not in text:
                problems.append(f"{where}: reason for {entry['field']} missing in description")
    assert not problems, "\n".join(problems)


def test_document_conventions(contract: dict[str, Any], c: Contract) -> None:
    assert contract["asyncapi"] == "3.0.0"
    assert contract["x-envelope"] is True
    assert "Envelope" in contract["components"]["schemas"]
    for cid, ch in c.channels.items():
        assert SNAKE.match(cid), cid
        assert isinstance(ch["x-publishers"], list), cid
        assert isinstance(ch["x-subscribers"], list), cid
        assert f"publish_{cid}" in c.operations and f"subscribe_{cid}" in c.operations, cid
    for oid, op in c.operations.items():
        binding = op["bindings"]["mqtt"]
        assert binding["qos"] in (0, 1, 2) and isinstance(binding["retain"], bool), oid
        assert str(binding["bindingVersion"]) == "0.2.0", oid
        assert op["action"] == ("send" if oid.startswith("publish_") else "receive"), oid
    names = set()
    for mid, msg in c.messages.items():
        assert PASCAL.match(mid) and msg["title"] == mid, mid
        assert msg["name"] and msg["contentType"] == "application/json", mid
        assert msg["payload"]["$ref"].startswith("./schemas/"), mid
        names.add(mid)
    assert len(names) == len(c.messages)


def test_request_reply_pairs(c: Contract) -> None:
    for req, rep in REQUEST_REPLY.items():
        op = c.send(req)
        reply = op.get("reply")
        assert reply, f"publish_{req} has no reply"
        assert reply["channel"]["$ref"] == f"#/channels/{rep}"
        assert reply["messages"], req
        for m in reply["messages"]:
            assert m["$ref"].startswith(f"#/channels/{rep}/messages/"), m
        expected = "$message.payload#/call_id" if "tool" in req else "envelope-id"
        assert reply["x-correlation"] == expected, req
    assert c.send("llm_request")["x-reply-stream"] == {"$ref": "#/channels/llm_stream"}


def test_schema_files_are_all_reachable(
    contract: dict[str, Any], contract_schemas: dict[str, dict[str, Any]]
) -> None:
    todo = [_stem(r) for r in _refs(contract) if r.endswith(".json")]
    seen: set[str] = set()
    while todo:
        stem = todo.pop()
        if stem in seen:
            continue
        assert stem in contract_schemas, f"$ref to missing schema file {stem}.json"
        seen.add(stem)
        todo += [_stem(r) for r in _refs(contract_schemas[stem]) if r.endswith(".json")]
    assert set(contract_schemas) == seen, f"unreferenced: {set(contract_schemas) - seen}"


def test_default_factories(contract_schemas: dict[str, dict[str, Any]]) -> None:
    count = 0
    for stem, schema in contract_schemas.items():
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            factory = prop.get("x-default-factory")
            if factory is None:
                if name == "message_id":
                    raise AssertionError(f"{stem}.message_id lacks x-default-factory")
                continue
            count += 1
            assert factory in ("uuid4", "now"), (stem, name, factory)
            assert name not in required and "default" not in prop, (stem, name)
            kind = prop.get("type")
            if factory == "uuid4":
                assert kind == "string", (stem, name)
            else:
                assert kind == "number" or prop.get("format") == "date-time", (stem, name)
            # non-required and no default would make a generated model send null
        for name, prop in schema.get("properties", {}).items():
            if name not in required and "x-default-factory" not in prop:
                assert "default" in prop, f"{stem}.{name}: optional without default or factory"
    assert count > 40
