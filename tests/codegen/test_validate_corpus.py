"""Every broken corpus document fails with the expected rule at the expected JSON pointer."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.diagnostics import ContractError, NotMQTTError

# file -> (rule, JSON pointer of the first diagnostic with that rule)
EXPECTED = {
    "constructed/invalid/i01-qos-out-of-range.yaml": (
        "mqtt-binding-qos",
        "/operations/publishTemperature/bindings/mqtt/qos",
    ),
    "constructed/invalid/i02-retain-not-boolean.yaml": (
        "mqtt-binding-retain",
        "/operations/publishTemperature/bindings/mqtt/retain",
    ),
    "constructed/invalid/i03-operation-message-not-in-channel.yaml": (
        "asyncapi3-operation-messages-from-referred-channel",
        "/operations/publishTemperature/messages/0",
    ),
    "constructed/invalid/i04-address-param-undeclared.yaml": (
        "asyncapi3-channel-parameters",
        "/channels/roomTemperature/parameters",
    ),
    "constructed/invalid/i06-parameter-redundant.yaml": (
        "asyncapi3-channel-parameters",
        "/channels/roomTemperature/parameters/floor",
    ),
    "constructed/invalid/i07-missing-action.yaml": (
        "asyncapi-document-resolved",
        "/operations/publishTemperature",
    ),
    "constructed/invalid/i08-bad-action.yaml": (
        "asyncapi-document-resolved",
        "/operations/publishTemperature/action",
    ),
    "constructed/invalid/i09-missing-external-ref.yaml": (
        "invalid-ref",
        "/components/messages/SetpointCommand/payload/$ref",
    ),
    # the official schema's finding, under the official parser's rule id (was a hand-written
    # rule "asyncapi3-parameter-object"; the migration hint stays)
    "constructed/invalid/i10-parameter-with-schema.yaml": (
        "asyncapi-document-resolved",
        "/channels/roomTemperature/parameters/roomId/schema",
    ),
    "constructed/invalid/i11-payload-bad-type.yaml": (
        "schema-type",
        "/components/schemas/TemperatureReading/properties/battery/type",
    ),
    "parser-js-v1-fixtures/wrong/inexisting-local-ref.yaml": (
        "invalid-ref",
        "/channels/mychannel2/publish/message/$ref",
    ),
    "parser-js-v1-fixtures/wrong/invalid-asyncapi.yaml": ("asyncapi-document-resolved", "/info"),
    "parser-js-v1-fixtures/wrong/invalid-asyncapi.json": ("asyncapi-document-resolved", "/info"),
    "parser-js-v1-fixtures/wrong/invalid-operation-with-duplicate-tags.yaml": (
        "asyncapi2-tags-uniqueness",
        "/channels/~1user~1signedup/subscribe/tags/1/name",
    ),
    # an example without payload/headers breaks the official schema: the parser's id for that is
    # asyncapi-document-resolved (its asyncapi2-message-examples checks examples against payloads)
    "parser-js-v1-fixtures/wrong/invalid-asyncapi-messages-example.yml": (
        "asyncapi-document-resolved",
        "/channels/myChannel/subscribe/message/examples/0",
    ),
    "parser-js-v1-fixtures/wrong/invalid-payload-asyncapi-format.json": (
        "schema",
        "/channels/mychannel/publish/message/payload/additionalProperties",
    ),
    "parser-js-v1-fixtures/wrong/malformed-asyncapi.yaml": ("parse-error", ""),
    "parser-js/openapi-schema-parser/test/documents/invalid-asyncapi.yaml": (
        "unsupported-schema-format",
        "/components/messages/testMessage/schemaFormat",
    ),
    "parser-js/parser/test/sample_browser/main/asyncapi.yaml": ("invalid-ref", None),
}


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_invalid_document(corpus: Path, rel: str) -> None:
    rule, pointer = EXPECTED[rel]
    with pytest.raises(ContractError) as info:
        load_contract(corpus / rel)
    assert not isinstance(info.value, NotMQTTError)
    matching = [d for d in info.value.diagnostics if d.rule == rule]
    assert matching, f"expected rule {rule}, got {[d.render() for d in info.value.diagnostics]}"
    if pointer is not None:
        assert pointer in [d.location.pointer for d in matching]
    for d in info.value.diagnostics:
        assert d.location.file.is_absolute() and d.severity == "error"


def test_accepted_i05_missing_parameters_object_is_a_warning(corpus: Path) -> None:
    """Spec 3.0 says parameters MUST be described, parser 3.6.6 accepts it: we generate, treat
    the parameter as a free string, and warn (rule channel-parameters-missing)."""
    contract, diags = load_contract(
        corpus / "constructed/invalid/accepted-i05-address-no-parameters-object.yaml"
    )
    assert [d.rule for d in diags if d.severity == "warning"] == ["channel-parameters-missing"]
    ch = contract.channel("thermostatSet")
    assert [p.name for p in ch.topic.parameters] == ["roomId"] and ch.topic.parameters[
        0
    ].enum is None


def test_accepted_i12_wildcard_address_is_subscribe_only(corpus: Path) -> None:
    """A wildcard address is a subscription filter: generated client gets subscribe_/on_ only."""
    contract, _ = load_contract(
        corpus / "constructed/invalid/accepted-i12-mqtt-wildcard-address.yaml"
    )
    assert contract.channel("thermostatSet").topic.has_wildcards


def test_zbos_message_named_like_a_typing_name_is_named_from_its_channel(corpus: Path) -> None:
    """Parser 3.6.6 rejects this v1 fixture only for its examples; we generate from payloads.
    Its message ``Any`` would clash with ``typing.Any``: the payload takes the channel's name."""
    contract, _ = load_contract(corpus / "parser-js-v1-fixtures/good/zbos_mqtt-all-asyncapi.json")
    [message] = contract.channel("zbos/domotica/response/{key}").messages
    assert message.name == "Any" and message.class_name == "ZbosDomoticaResponseKey"
