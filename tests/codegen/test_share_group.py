"""``x-share-group`` in a contract: IR, validation, and the generated ``share_group`` defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.diagnostics import ContractError

V3 = """
asyncapi: 3.0.0
info: {{title: Jobs, version: '1'}}
servers: {{b: {{host: 'localhost', protocol: mqtt}}}}
channels:
  jobs:
    address: jobs/{{kind}}
    {channel_extra}
    messages: {{job: {{payload: {{type: object}}}}}}
  other:
    address: other
    messages: {{m: {{payload: {{type: object}}}}}}
operations:
  work:
    action: receive
    channel: {{$ref: '#/channels/jobs'}}
    {op_extra}
  send:
    action: send
    channel: {{$ref: '#/channels/jobs'}}
    x-share-group: ignored-on-send
"""

V26 = """
asyncapi: 2.6.0
info: {title: Jobs, version: '1'}
channels:
  jobs:
    publish:
      x-share-group: workers
      message: {payload: {type: object}}
"""


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "api.yaml"
    path.write_text(text)
    return load_contract(path)[0]


def test_receive_operation_wins_over_channel(tmp_path: Path) -> None:
    contract = load(
        tmp_path,
        V3.format(channel_extra="x-share-group: from-channel", op_extra="x-share-group: w"),
    )
    jobs = contract.channel("jobs")  # type: ignore[attr-defined]
    assert jobs.share_group == "w"
    assert contract.channel("other").share_group is None  # type: ignore[attr-defined]
    work = next(op for op in contract.operations if op.id == "work")  # type: ignore[attr-defined]
    assert work.share_group == "w"


def test_channel_level_group_is_the_default(tmp_path: Path) -> None:
    contract = load(tmp_path, V3.format(channel_extra="x-share-group: scribes", op_extra=""))
    assert contract.channel("jobs").share_group == "scribes"  # type: ignore[attr-defined]


def test_asyncapi_2_publish_operation_is_the_receive_side(tmp_path: Path) -> None:
    contract = load(tmp_path, V26)
    assert contract.channel("jobs").share_group == "workers"  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["''", "a/b", "'a+'", "'#'", "3"])
def test_invalid_group_is_an_error_at_its_pointer(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ContractError) as info:
        load(tmp_path, V3.format(channel_extra="", op_extra=f"x-share-group: {bad}"))
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.rule == "invalid-share-group"
    assert diagnostic.location.pointer == "/operations/work/x-share-group"


def test_share_group_is_a_reserved_parameter_name(tmp_path: Path) -> None:
    text = V3.format(channel_extra="", op_extra="").replace("jobs/{kind}", "jobs/{share_group}")
    with pytest.raises(ContractError) as info:
        load(tmp_path, text)
    assert info.value.rules == {"name-collision"}
