"""contract path -> {relative path: text} of the generated package (in memory, formatted)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.diagnostics import Diagnostic
from mqttwire_codegen.errors import GeneratorError
from mqttwire_codegen.formatting import format_python
from mqttwire_codegen.ir import Contract
from mqttwire_codegen.models_gen import generate_models
from mqttwire_codegen.naming import is_identifier
from mqttwire_codegen.render import header, render_templates, template_context


@dataclass(frozen=True)
class GeneratedPackage:
    contract: Contract
    files: dict[str, str]
    warnings: tuple[Diagnostic, ...]


def generate_package(
    contract_path: Path | str,
    package: str,
    *,
    client_name: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> GeneratedPackage:
    """Everything ``mqttwire generate`` writes, without touching the disk.

    ``progress(step)`` is called before each step (the CLI shows it as a status line).
    """
    report = progress or (lambda step: None)
    if not all(is_identifier(part) for part in package.split(".")):
        raise GeneratorError(f"--package {package!r} is not a valid Python package name")
    report(f"loading {contract_path}")
    contract, diagnostics = load_contract(contract_path, client_name=client_name)
    context = template_context(contract, package, Path(contract_path).name)
    head = header(context)
    report("rendering the client")
    sources = render_templates(context)
    report(f"generating {len(contract.schema_defs)} models")
    # the model generator's own warnings (e.g. "format of 'int64' not understood") become
    # our diagnostics instead of Python warnings printed with a path into site-packages
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = generate_models(
            contract.schema_defs,
            enums=contract.enums,
            header=head
            + f'"""Payload models of {context.title} (Pydantic v2, from the contract\'s JSON Schemas)."""',
        )
    notes = [
        Diagnostic(
            contract.source_file,
            "model-generator",
            f"payload models: {text}",
            "warning",
            "the field gets the plain type (a format the model generator does not know)",
        )
        for text in dict.fromkeys(str(w.message) for w in caught)
    ]
    sources["models.py"] = models
    first_party = ("mqttwire", package.split(".")[0])
    files: dict[str, str] = {}
    for index, (name, src) in enumerate(sorted(sources.items()), start=1):
        report(f"formatting {name} ({index}/{len(sources)})")
        files[name] = format_python(src, name, first_party)
    files["py.typed"] = ""
    return GeneratedPackage(
        contract, files, tuple(d for d in [*diagnostics, *notes] if d.severity != "error")
    )
