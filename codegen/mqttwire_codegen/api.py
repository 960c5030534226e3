"""The front door: path -> validated IR (used by generate, check, validate and diff)."""

from __future__ import annotations

from pathlib import Path

from mqttwire_codegen.build import build_contract
from mqttwire_codegen.diagnostics import ContractError, Diagnostic
from mqttwire_codegen.ir import Contract
from mqttwire_codegen.loader import Resolver
from mqttwire_codegen.protocol import precheck_protocol
from mqttwire_codegen.validate import validate_document


def load_contract(
    path: Path | str, *, client_name: str | None = None
) -> tuple[Contract, list[Diagnostic]]:
    """Load, validate and normalize a contract. Raises ContractError with all diagnostics."""
    resolver = Resolver(Path(path))
    precheck_protocol(resolver)
    diagnostics = validate_document(resolver)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise ContractError(errors)
    contract, warnings = build_contract(resolver, client_name=client_name)
    return contract, [*diagnostics, *warnings]
