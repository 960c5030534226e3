"""A real Mosquitto broker on a free loopback port, for integration tests.

Tests own the process: they can stop it (SIGTERM), kill it (SIGKILL), freeze it
(SIGSTOP/SIGCONT) and start it again on the same port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Self

__all__ = [
    "BrokerNotAvailableError",
    "MosquittoBroker",
    "ProcessBroker",
    "find_mosquitto",
    "free_port",
]


class BrokerNotAvailableError(RuntimeError):
    """No mosquitto binary could be found."""


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary (PATH, then the sbin folders Debian installs into)."""
    return shutil.which("mosquitto") or shutil.which(
        "mosquitto", path="/usr/sbin:/usr/local/sbin:/opt/homebrew/sbin"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProcessBroker:
    """A broker in a child process (own session, so signals reach only its group)."""

    name = "broker"

    def __init__(self, port: int | None, workdir: str | Path | None) -> None:
        self.host = "127.0.0.1"
        self.port = port if port is not None else free_port()
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"mqttwire-{self.name}-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def log(self) -> str:
        """The broker's log so far (for assertion messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _spawn(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        with open(self.workdir / f"{self.name}.out", "ab") as out:
            self._process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=self.workdir,
            )

    def _signal_group(self, sig: signal.Signals) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)

    def _wait(self, timeout: float) -> None:
        process = self._process
        if process is None:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            process.wait(10)
        # Children that outlived the leader (e.g. an Erlang helper) go with the group.
        self._signal_group(signal.SIGKILL)
        if process.stderr:
            process.stderr.close()
        self._process = None

    def stop(self, timeout: float = 20.0) -> None:
        """Graceful stop (SIGTERM to the broker's process group)."""
        if self._process is None:
            return
        self._signal_group(signal.SIGTERM)
        self._wait(timeout)

    def kill(self) -> None:
        """Hard stop (SIGKILL): nothing is saved, connections die without a goodbye."""
        if self._process is None:
            return
        self._signal_group(signal.SIGKILL)
        self._wait(10.0)

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): links stay open but nothing answers."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def start(self, timeout: float = 30.0) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the broker for good and remove its folder."""
        self.resume()
        self.kill()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MosquittoBroker(ProcessBroker):
    """One mosquitto process with its own temporary config, data and log folder."""

    name = "mosquitto"

    def __init__(
        self,
        port: int | None = None,
        *,
        persistence: bool = False,
        password_file: str | Path | None = None,
        acl_file: str | Path | None = None,
        extra_config: Iterable[str] = (),
        workdir: str | Path | None = None,
    ) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise BrokerNotAvailableError(
                "mosquitto is not installed (apt-get install mosquitto / brew install mosquitto)"
            )
        self.binary = binary
        super().__init__(port, workdir)
        self.persistence = persistence
        self.password_file = password_file
        self.acl_file = acl_file
        self.extra_config = list(extra_config)

    def _write_config(self) -> Path:
        lines = [
            f"listener {self.port} {self.host}",
            "set_tcp_nodelay true",
            "max_queued_messages 100000",
            "max_inflight_messages 0",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root, mosquitto drops to user "mosquitto", which cannot read our private
            # temporary folder (log, password and ACL files): keep the test broker as root.
            lines.append("user root")
        if self.password_file:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.workdir}/",
                "autosave_interval 1",
            ]
        else:
            lines.append("persistence false")
        lines += self.extra_config
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart) the broker on the same port; returns once it accepts TCP."""
        if self.running:
            return
        config = self._write_config()
        self._process = subprocess.Popen(
            [self.binary, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise RuntimeError(
                    f"mosquitto exited with {self._process.returncode}: {err}{self.log()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                return
            time.sleep(0.02)
        raise TimeoutError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout}s")
