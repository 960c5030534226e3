"""Importing mqttwire or a generated package never imports the generator's dependencies."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import mqttwire, mqttwire.typed
import tars_mqtt
from tars_mqtt import TarsClient
from tars_mqtt.models import TtsSay
TtsSay(text="hi")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"jinja2", "datamodel_code_generator", "yaml", "mqttwire_codegen"})
print(",".join(heavy))
"""


def test_generated_package_imports_no_codegen_deps() -> None:
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_runtime_version_mismatch_is_a_clear_error() -> None:
    code = (
        "import mqttwire.version as v; v.RUNTIME_API_VERSION = 99\n"
        "v.SUPPORTED_RUNTIME_APIS = frozenset({99})\n"
        "try:\n    import tars_mqtt\nexcept ImportError as e:\n    print(type(e).__name__, e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.startswith(
        "ContractVersionError tars_mqtt was generated for mqttwire runtime API 3"
    )
