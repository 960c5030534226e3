"""Errors of the generator itself (not of the contract: those are ContractError diagnostics)."""

from __future__ import annotations


class GeneratorError(Exception):
    """Generation failed for a reason other than an invalid contract (a bug or a tool failure)."""
