"""Importing the runtime must not pull in the generator's dependencies."""

from __future__ import annotations

import subprocess
import sys


def test_import_mqttwire_does_not_import_codegen_dependencies() -> None:
    code = (
        "import sys, mqttwire\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'jinja2', 'datamodel_code_generator', 'mqttwire_codegen', 'yaml'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_public_names_are_exported() -> None:
    import mqttwire

    for name in mqttwire.__all__:
        assert hasattr(mqttwire, name), name
    assert isinstance(mqttwire.RUNTIME_API_VERSION, int)
    assert mqttwire.__version__
