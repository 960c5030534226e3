"""Topic documentation generated from a contract: Markdown (with Mermaid) and a standalone SVG.

``render_docs`` returns every file's text in memory; the ``mqttwire docs`` command writes or
checks them. Output depends only on the contract and the output paths (no clock, no machine).
"""

from __future__ import annotations

import os
from pathlib import Path

from mqttwire_codegen.docgen.examples import ContractExamples
from mqttwire_codegen.docgen.graph import build_graph
from mqttwire_codegen.docgen.markdown import render_markdown
from mqttwire_codegen.docgen.svg import render_svg
from mqttwire_codegen.ir import Contract

__all__ = ["relative_ref", "render_docs"]


def relative_ref(target: Path, from_dir: Path) -> str:
    """``target`` as a POSIX path relative to ``from_dir`` (both made absolute first)."""
    return Path(os.path.relpath(target.resolve(), from_dir.resolve())).as_posix()


def render_docs(
    contract: Contract, markdown_path: Path, svg_path: Path | None = None
) -> dict[Path, str]:
    """``{path: text}`` for the Markdown page and, when asked for, the SVG diagram."""
    graph = build_graph(contract)
    here = markdown_path.parent
    files: dict[Path, str] = {}
    svg_ref = None
    if svg_path is not None:
        svg_ref = relative_ref(svg_path, here)
        files[svg_path] = render_svg(graph, f"{contract.title} {contract.version}")
    files[markdown_path] = render_markdown(
        contract,
        graph,
        contract_ref=relative_ref(contract.source_file.file, here),
        svg_ref=svg_ref,
        examples=ContractExamples(contract.source_file.file),
    )
    return dict(sorted(files.items()))
