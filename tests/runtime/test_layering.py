"""The typed layer's parts talk to each other through public names only, and share one codec.

(That production code never imports the testing kit is checked with the other import directions
in tests/structure/test_imports.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import mqttwire
from mqttwire.codec import Codec
from mqttwire.testing import for_testing, kit_of
from tars_mqtt import TarsClient

RUNTIME = Path(mqttwire.__file__).resolve().parent
TYPED_LAYER = ("typed.py", "requests.py", "codec.py", "specs.py", "testing/kit.py")


def test_the_typed_layer_reads_no_private_attribute_of_another_object() -> None:
    found: list[str] = []
    checked = 0
    for name in TYPED_LAYER:
        path = RUNTIME / name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            checked += 1
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            own = isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}
            if private and not own:
                found.append(f"{name}:{node.lineno}: .{node.attr}")
    assert checked > 200  # the walk saw the modules' attribute reads
    assert found == []


async def test_for_testing_gives_the_client_router_and_kit_one_strict_codec() -> None:
    async with for_testing(TarsClient) as tars:
        assert isinstance(tars.codec, Codec) and tars.codec.strict
        assert tars.stats is tars.codec.stats
        kit = kit_of(tars)
        assert kit.errors == [] and kit.broker.log == []
    plain = TarsClient(client=tars.client)
    assert not plain.codec.strict and plain.codec is not tars.codec
