"""More MQTT brokers for interoperability tests: NATS, RabbitMQ and amqtt beside Mosquitto.

Every wrapper has the surface of :class:`~mqttwire.testing.broker.MosquittoBroker`: ``host``,
``port``, ``url``, ``start()``, ``stop()`` (graceful), ``kill()`` (hard), ``restart()``,
``close()``, ``running``, ``log()`` and context-manager use. Each one runs on free loopback
ports with its own temporary data folder, so it never touches a broker already running on the
machine (the system NATS on 4222, RabbitMQ on 5672, Mosquitto on 1883).

* :class:`NatsMqttBroker` - ``nats-server`` with JetStream and its MQTT gateway (3.1.1, QoS 0/1).
  :class:`NatsCluster` starts several of them as one JetStream cluster (MQTT sessions and
  retained messages are JetStream streams, replicated across the nodes).
* :class:`RabbitMqttBroker` - a private RabbitMQ node with the ``rabbitmq_mqtt`` plugin
  (3.1.1; QoS 2 is downgraded to 1). It starts in 10-30 s: start it once per test session.
* :class:`AmqttBroker` - the pure-Python amqtt broker (3.1.1) in a child process of the
  current Python (the in-process thread of :mod:`tars_demo.embedded` suits the demo; tests
  that kill and restart brokers need a process).

:func:`mqtt_handshake` checks that a broker answers an MQTT 3.1.1 CONNECT with CONNACK 0,
which is what "ready" means here (a TCP listener alone is not enough for NATS, whose MQTT
sessions need JetStream to be up).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mqttwire.testing.broker import BrokerNotAvailableError, ProcessBroker, free_port

__all__ = [
    "AmqttBroker",
    "NatsCluster",
    "NatsMqttBroker",
    "RabbitMqttBroker",
    "find_nats_server",
    "find_rabbitmq_server",
    "mqtt_handshake",
]

_SBIN = "/usr/sbin:/usr/local/sbin:/opt/homebrew/sbin:/usr/lib/rabbitmq/bin"


def find_nats_server() -> str | None:
    return shutil.which("nats-server") or shutil.which("nats-server", path=_SBIN)


def find_rabbitmq_server() -> str | None:
    """The rabbitmq-server start script itself (not Debian's wrapper that switches user)."""
    for candidate in ("/usr/lib/rabbitmq/bin/rabbitmq-server",):
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("rabbitmq-server") or shutil.which("rabbitmq-server", path=_SBIN)


def _connect_packet(client_id: str) -> bytes:
    """An MQTT 3.1.1 CONNECT with clean session and a 10 s keepalive."""
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


def mqtt_handshake(host: str, port: int, timeout: float = 2.0) -> int | None:
    """CONNECT (3.1.1, clean session) then DISCONNECT; the CONNACK return code, or ``None``
    when the broker did not answer (refused, closed, or too slow)."""
    try:
        with socket.create_connection((host, port), timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_connect_packet(f"mqttwire-ready-{secrets.token_hex(4)}"))
            data = b""
            while len(data) < 4:
                chunk = sock.recv(4 - len(data))
                if not chunk:
                    return None
                data += chunk
            if data[0] != 0x20:
                return None
            with contextlib.suppress(OSError):
                sock.sendall(b"\xe0\x00")
            return data[3]
    except OSError:
        return None


def _wait_ready(
    name: str,
    host: str,
    port: int,
    process: subprocess.Popen[bytes] | None,
    timeout: float,
    log: str | Path | None = None,
) -> None:
    """Wait until ``host:port`` answers an MQTT CONNECT with CONNACK 0."""
    deadline = time.monotonic() + timeout
    last: int | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {process.returncode} while starting: {_tail(log)}"
            )
        last = mqtt_handshake(host, port, 1.0)
        if last == 0:
            return
        time.sleep(0.1)
    raise TimeoutError(
        f"{name} did not accept MQTT on {host}:{port} within {timeout:g}s "
        f"(last CONNACK {last!r}): {_tail(log)}"
    )


def _tail(log: str | Path | None, lines: int = 30) -> str:
    if log is None:
        return ""
    path = Path(log)
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ---------------------------------------------------------------------------------------- NATS


@dataclass(frozen=True, slots=True)
class _Cluster:
    name: str
    port: int
    routes: tuple[int, ...]
    replicas: int


class NatsMqttBroker(ProcessBroker):
    """``nats-server`` with JetStream and MQTT on loopback (``port`` is the MQTT port).

    NATS speaks MQTT 3.1.1 only, QoS 0 and 1 (a QoS 2 PUBLISH closes the connection, a QoS 2
    SUBSCRIBE is granted QoS 1). Sessions, retained messages and QoS 1 deliveries live in
    JetStream streams under ``workdir``, so they survive a restart of the node.
    """

    name = "nats"

    def __init__(
        self,
        port: int | None = None,
        *,
        server_name: str | None = None,
        client_port: int | None = None,
        workdir: str | Path | None = None,
        _cluster: _Cluster | None = None,
    ) -> None:
        binary = find_nats_server()
        if binary is None:
            raise BrokerNotAvailableError(
                "nats-server is not installed (apt-get install nats-server)"
            )
        self.binary = binary
        super().__init__(port, workdir)
        self.server_name = server_name or f"mqttwire-{secrets.token_hex(3)}"
        self.client_port = client_port if client_port is not None else free_port()
        self._cluster = _cluster

    def version(self) -> str:
        out = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, check=False
        )
        return out.stdout.strip().removeprefix("nats-server: ")

    def _write_config(self) -> Path:
        store = self.workdir / "jetstream"
        lines = [
            f'server_name: "{self.server_name}"',
            f"listen: 127.0.0.1:{self.client_port}",
            f'jetstream {{ store_dir: "{store}", max_memory_store: 64MB, max_file_store: 1GB }}',
        ]
        mqtt = [f"listen: 127.0.0.1:{self.port}", "ack_wait: 5s"]
        if self._cluster is not None:
            cluster = self._cluster
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in cluster.routes)
            lines.append(
                f'cluster {{ name: "{cluster.name}", listen: 127.0.0.1:{cluster.port}, '
                f"routes: [{routes}] }}"
            )
            mqtt.append(f"stream_replicas: {cluster.replicas}")
            mqtt.append(f"consumer_replicas: {cluster.replicas}")
        lines.append("mqtt { " + ", ".join(mqtt) + " }")
        path = self.workdir / "nats.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 30.0, *, wait: bool = True) -> None:
        """Start (or restart) on the same ports and data folder; with ``wait`` return once
        the node answers an MQTT CONNECT (JetStream must be up for that)."""
        if self.running:
            return
        config = self._write_config()
        self._spawn([self.binary, "-c", str(config), "-l", str(self.log_path)])
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        _wait_ready(
            f"nats-server {self.server_name}",
            self.host,
            self.port,
            self._process,
            timeout,
            self.log_path,
        )


class NatsCluster:
    """``size`` NATS nodes clustered on loopback (routes to each other), JetStream and MQTT on
    each; MQTT streams replicated ``replicas`` times (default: all nodes)."""

    def __init__(
        self, size: int = 3, *, replicas: int | None = None, name: str = "mqttwire"
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        route_ports = [free_port() for _ in range(size)]
        replicas = size if replicas is None else replicas
        self.nodes = [
            NatsMqttBroker(
                server_name=f"{name}-n{i + 1}",
                _cluster=_Cluster(
                    name,
                    route_ports[i],
                    tuple(p for j, p in enumerate(route_ports) if j != i),
                    replicas,
                ),
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """All nodes in one ``MQTT_URL`` (comma-separated), first node first."""
        return ",".join(self.urls)

    def start(self, timeout: float = 60.0) -> None:
        for node in self.nodes:
            node.start(wait=False)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.wait_ready(max(1.0, deadline - time.monotonic()))

    def node_on_port(self, port: int) -> NatsMqttBroker:
        for node in self.nodes:
            if node.port == port:
                return node
        raise KeyError(port)

    def log(self) -> str:
        return "\n".join(f"--- {n.server_name}\n{_tail(n.log_path, 40)}" for n in self.nodes)

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------ RabbitMQ


class RabbitMqttBroker(ProcessBroker):
    """A private RabbitMQ node with the ``rabbitmq_mqtt`` plugin (``port`` is the MQTT port).

    It gets its own node name, AMQP/distribution ports, Erlang cookie, data/log folders and its
    own ``epmd`` on a free port, so the system RabbitMQ (and its epmd) are never involved.
    RabbitMQ 3.10 speaks MQTT 3.1.1 (an MQTT 5 CONNECT makes it close the connection), QoS 0/1
    (QoS 2 is downgraded to 1), and does not deliver retained messages to wildcard
    subscriptions.
    """

    name = "rabbitmq"

    def __init__(self, port: int | None = None, *, workdir: str | Path | None = None) -> None:
        binary = find_rabbitmq_server()
        if binary is None or shutil.which("erl") is None:
            raise BrokerNotAvailableError(
                "rabbitmq-server (with Erlang) is not installed (apt-get install rabbitmq-server)"
            )
        self.binary = binary
        super().__init__(port, workdir)
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node_name = f"mqttwire-{os.getpid()}-{self.port}@localhost"

    def version(self) -> str:
        base = Path("/usr/lib/rabbitmq/lib")
        if base.is_dir():
            for entry in sorted(base.iterdir()):
                if entry.name.startswith("rabbitmq_server-"):
                    return entry.name.removeprefix("rabbitmq_server-")
        return "unknown"

    def log(self) -> str:
        logs = (
            sorted((self.workdir / "log").glob("*.log")) if (self.workdir / "log").is_dir() else []
        )
        out = (
            (self.workdir / f"{self.name}.out").read_text(errors="replace")
            if (self.workdir / f"{self.name}.out").exists()
            else ""
        )
        return out + "".join(p.read_text(errors="replace")[-4000:] for p in logs)

    def _environment(self) -> dict[str, str]:
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(16))
            cookie.chmod(0o400)
        (self.workdir / "mnesia").mkdir(exist_ok=True)
        (self.workdir / "log").mkdir(exist_ok=True)
        plugins = self.workdir / "enabled_plugins"
        plugins.write_text("[rabbitmq_mqtt].\n")
        conf = self.workdir / "rabbitmq.conf"
        conf.write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}",
                    f"mqtt.listeners.tcp.default = 127.0.0.1:{self.port}",
                    "mqtt.allow_anonymous = true",
                    "loopback_users = none",
                    "log.console = false",
                    "log.file.level = info",
                ]
            )
            + "\n"
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_"))
        }
        env.update(
            HOME=str(home),
            RABBITMQ_NODENAME=self.node_name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.workdir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.workdir / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(plugins),
            RABBITMQ_CONFIG_FILE=str(conf),
            RABBITMQ_PID_FILE=str(self.workdir / "rabbitmq.pid"),
            # A private epmd: the node registers there, not with the system one on 4369.
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def start(self, timeout: float = 90.0) -> None:
        """Start (or restart) the node; returns once its MQTT listener answers CONNECT."""
        if self.running:
            return
        self._spawn([self.binary], env=self._environment())
        _wait_ready(
            f"rabbitmq node {self.node_name}",
            self.host,
            self.port,
            self._process,
            timeout,
            self.workdir / f"{self.name}.out",
        )

    def close(self) -> None:
        super().close()
        self._stop_epmd()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_epmd(self) -> None:
        """Stop the private epmd that the node started (only ours: it listens on our port)."""
        epmd = shutil.which("epmd")
        if epmd is None:
            return
        # epmd refuses -kill while it still lists the node; it notices the dead node promptly.
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                done = subprocess.run(
                    [epmd, "-port", str(self.epmd_port), "-kill"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                    check=False,
                    env={**os.environ, "ERL_EPMD_ADDRESS": "127.0.0.1"},
                )
            except (OSError, subprocess.SubprocessError):
                return
            output = done.stdout + done.stderr
            if "Killed" in output or "Cannot connect" in output:
                return
            time.sleep(0.1)


# --------------------------------------------------------------------------------------- amqtt


class AmqttBroker(ProcessBroker):
    """The pure-Python amqtt broker in a child process (same surface as the others).

    A process rather than a thread of the test process: ``kill()`` is a real SIGKILL and the
    port is free as soon as the process is gone (an in-process amqtt that is shut down while
    clients keep reconnecting can hold its listener for a long time). amqtt keeps sessions and
    retained messages in memory only: a restart loses them.
    """

    name = "amqtt"

    def __init__(self, port: int | None = None, *, workdir: str | Path | None = None) -> None:
        try:
            import amqtt.broker  # noqa: F401
        except ImportError as exc:
            raise BrokerNotAvailableError("amqtt is not installed (pip install amqtt)") from exc
        super().__init__(port, workdir)

    def version(self) -> str:
        from importlib.metadata import version

        return version("amqtt")

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        self._spawn(
            [
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, sys.argv[2]); "
                "from support.brokers import _amqtt_main; _amqtt_main(int(sys.argv[1]))",
                str(self.port),
                str(Path(__file__).resolve().parents[1]),
            ]
        )
        _wait_ready("amqtt", self.host, self.port, self._process, timeout, self.log_path)

    def log(self) -> str:
        path = self.workdir / f"{self.name}.out"
        return path.read_text(errors="replace") if path.exists() else ""


def _amqtt_main(port: int) -> None:
    """Entry point of the amqtt child process: serve on 127.0.0.1:``port`` until SIGTERM."""
    import asyncio
    import logging

    from amqtt.broker import Broker

    logging.basicConfig(level=logging.WARNING)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        await broker.start()
        await stop.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(broker.shutdown(), 2.0)

    asyncio.run(serve())
