"""contract path -> {relative path: text} of the generated package (in memory, formatted)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.diagnostics import Diagnostic, Location
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
        _model_generator_note(contract, text)
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


_UNKNOWN_FORMAT = re.compile(r"format of '([^']*)' not understood")


def _model_generator_note(contract: Contract, text: str) -> Diagnostic:
    """A warning of the model generator as our diagnostic: an unknown ``format`` is reported at
    the payload of the first message that uses it (the warning itself says not where)."""
    unknown = _UNKNOWN_FORMAT.search(text)
    if unknown is None:
        return Diagnostic(
            contract.source_file, "model-generator", f"payload models: {text}", "warning"
        )
    fmt = unknown.group(1)
    where: Location = contract.source_file
    for channel in contract.channels:
        found = next(
            (
                m
                for m in channel.messages
                if m.payload_location is not None
                and _uses_format(m.payload_schema, fmt, contract.schema_defs, set())
            ),
            None,
        )
        if found is not None and found.payload_location is not None:
            where = found.payload_location
            text += f" (first used by message {found.class_name} of channel {channel.id!r})"
            break
    return Diagnostic(
        where,
        "model-generator",
        f"payload models: {text}",
        "warning",
        "the field gets the plain type (a format the model generator does not know)",
    )


def _uses_format(node: Any, fmt: str, defs: Mapping[str, Any], seen: set[str]) -> bool:
    """Whether a bundled schema uses ``format: fmt``, following ``#/$defs/<name>`` once each."""
    if isinstance(node, Mapping):
        if node.get("format") == fmt:
            return True
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name not in seen:
                seen.add(name)
                if _uses_format(defs.get(name), fmt, defs, seen):
                    return True
        return any(_uses_format(v, fmt, defs, seen) for k, v in node.items() if k != "$ref")
    if isinstance(node, list):
        return any(_uses_format(v, fmt, defs, seen) for v in node)
    return False
