"""The mqttwire demo: three TARS services talking through the generated ``TarsClient``.

Run it with ``tars-demo``, ``python -m tars_demo`` or ``nox -s demo``. It picks a broker
(``MQTT_URL``, else ``mosquitto`` from ``PATH``, else the in-process ``amqtt``), starts a router,
an llm and a tts service as child processes, injects utterances from a monitor and prints a
timeline; then it kills the tts service with SIGKILL, shows its last will turning its health
``ok: false`` and restarts it. See :mod:`tars_demo.cli` for the options.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tars-demo`` and ``python -m tars_demo`` (imports the runtime only when
    called)."""
    from tars_demo.cli import main as cli_main

    return cli_main(argv)
