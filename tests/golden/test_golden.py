"""Each tests/golden/<case>/contract.yaml generates exactly tests/golden/<case>/expected/<pkg>/."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttwire_codegen.commands.check import package_diff
from mqttwire_codegen.pipeline import generate_package
from mqttwire_codegen.writer import read_package, write_package

HERE = Path(__file__).parent
CASES = sorted(p.parent.name for p in HERE.glob("*/contract.yaml"))


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    contract = HERE / case / "contract.yaml"
    package = f"{case}_client"
    generated = generate_package(contract, package)
    target = HERE / case / "expected" / package
    if update_golden:
        write_package(generated.files, target)
    diff = package_diff(generated.files, read_package(target), str(target))
    assert not diff, f"golden output changed (run pytest tests/golden --update-golden):\n{diff}"


def test_cases_present() -> None:
    assert len(CASES) >= 4
