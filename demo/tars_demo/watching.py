"""``--watch``: run ``mqttwire watch`` beside the demo's services and print its summary.

The watcher is the command's own :class:`~mqttwire_codegen.watch.Watcher`, in the demo's
process and event loop, with its own client id; it publishes nothing. It needs the generator's
distribution (``mqttwire-codegen``, or ``pip install 'tars-demo[watch]'``) and the contract file, found in the source tree (or given).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqttwire_codegen.watch.live import Watcher

__all__ = ["CONTRACT_NAME", "DemoWatch", "WatchUnavailableError", "find_contract"]

CONTRACT_NAME = Path("contracts") / "mqtt_client_api.yaml"


class WatchUnavailableError(RuntimeError):
    """``--watch`` cannot run: no contract file, or the generator is not installed."""


def find_contract(given: str | None) -> Path:
    """``given``, else the TARS contract of the source tree or of the working directory."""
    if given:
        candidates = [Path(given)]
    else:
        candidates = [
            Path(__file__).resolve().parents[2] / CONTRACT_NAME,
            Path.cwd() / CONTRACT_NAME,
        ]
    for path in candidates:
        if path.is_file():
            return path
    raise WatchUnavailableError(
        f"--watch needs the contract file; none at {', '.join(map(str, candidates))} "
        "(pass --watch PATH)"
    )


class DemoWatch:
    """Loads the contract up front (errors before anything starts); watches once started."""

    def __init__(self, contract_path: Path) -> None:
        try:
            from mqttwire_codegen.api import load_contract
            from mqttwire_codegen.diagnostics import ContractError
        except ImportError as exc:
            raise WatchUnavailableError(
                f"--watch needs the generator: pip install mqttwire-codegen ({exc})"
            ) from None
        try:
            self.contract = load_contract(contract_path)[0]
        except ContractError as exc:
            raise WatchUnavailableError(f"--watch: {contract_path}: {exc}") from None
        self.contract_path = contract_path
        self.watcher: Watcher | None = None

    async def start(self, url: str, client_id: str, aliases: Mapping[str, str]) -> None:
        from mqttwire_codegen.watch.live import Watcher, watch_config

        config = watch_config(url, client_id=client_id, connect_timeout=5.0, shutdown_timeout=2.0)
        self.watcher = Watcher(self.contract, config, publisher_aliases=aliases)
        await self.watcher.start()

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()

    def summary(self, broker_kind: str) -> list[str]:
        from mqttwire_codegen.watch.findings import FindingClass
        from mqttwire_codegen.watch.table import summary_lines

        assert self.watcher is not None
        report = self.watcher.report
        lines = summary_lines(report, [])
        if broker_kind == "amqtt" and report.counts[FindingClass.QOS_MISMATCH]:
            lines.append(
                "  (amqtt delivers live messages at the subscription's QoS instead of "
                "min(publish, subscription): its QoS findings are the broker's; use mosquitto)"
            )
        return lines
