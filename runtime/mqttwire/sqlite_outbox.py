"""The durable outbox: QoS >= 1 publishes kept in a SQLite file until acknowledged.

Selected by ``offline_queue_path`` (see :mod:`mqttwire.outbox_store` for the life of a message).
Every ``put``/``track`` is one committed SQLite transaction in WAL mode before it returns; the
messages are also mirrored in memory, so taking and requeueing them costs no disk access.

Durability (``synchronous=NORMAL`` under WAL): a commit is written to the WAL file with
``write()``, so it survives the death of the process (SIGKILL, OOM killer, a crash) as soon as
``publish()`` returns. The WAL is fsynced at checkpoints only, so after a power loss or kernel
crash the file is intact but the transactions since the last checkpoint may be rolled back:
recent accepts lost, recent acknowledgements undone (those messages are sent again and dropped
by receivers' dedupe). ``synchronous="FULL"`` (constructor only) fsyncs every commit; see
``benchmarks/bench_outbox.py`` for what that costs.

The file is locked for as long as the store is open (``locking_mode=EXCLUSIVE``): a second
process with the same path gets :class:`~mqttwire.errors.OutboxError` instead of sending the
same messages twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from mqttwire.errors import OutboxCorruptError, OutboxError, PublishError
from mqttwire.offline_queue import OutgoingMessage, check_bounds
from mqttwire.transport import MessageProperties

__all__ = ["SqliteOutbox"]

_LOG = logging.getLogger("mqttwire.outbox")

# PRAGMA application_id of our files ("MQWO"): a foreign SQLite database is never touched.
APPLICATION_ID = 0x4D51574F
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,      -- order of acceptance
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    properties TEXT,              -- MQTT 5 properties as JSON, or NULL
    accepted_at REAL NOT NULL     -- wall clock, for the message expiry interval across restarts
)
"""
_CORRUPT = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
_BUSY = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


class _CorruptFile(Exception):
    pass


class SqliteOutbox:
    """An :class:`~mqttwire.outbox_store.OutboxStore` in the SQLite file ``path``.

    Opening it loads every message the file holds (queued or in flight when the last process
    ended) into the queue, in the order they were accepted. A corrupt file is renamed to
    ``<path>.corrupt-<UTC time>`` (with its ``-wal``), logged, reported in :attr:`moved_aside`,
    and a new empty file is started. Anything else that prevents using the file raises
    :class:`~mqttwire.errors.OutboxError`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        capacity: int,
        max_bytes: int | None = None,
        *,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._path = Path(path)
        self._synchronous = synchronous
        self._queue: deque[OutgoingMessage] = deque()
        self._in_flight: dict[int, OutgoingMessage] = {}
        self._bytes = 0
        self._write_failing = False
        self.moved_aside: OutboxCorruptError | None = None
        try:
            self._db: sqlite3.Connection | None = self._open()
        except _CorruptFile as exc:
            self.moved_aside = self._move_aside(str(exc))
            self._queue.clear()
            self._bytes = 0
            self._db = self._open()
        self._next_seq = self._queue[-1].seq + 1 if self._queue else 1
        if self._queue:
            _LOG.info("offline queue %s: %d message(s) from before", self._path, len(self._queue))

    # ------------------------------------------------------------------ the store

    @property
    def location(self) -> str:
        return str(self._path)

    @property
    def payload_bytes(self) -> int:
        """Payload bytes of the queued messages."""
        return self._bytes

    @property
    def in_flight(self) -> int:
        """Messages being sent (taken or tracked, not yet done)."""
        return len(self._in_flight)

    def __len__(self) -> int:
        return len(self._queue)

    def __bool__(self) -> bool:
        return bool(self._queue)

    def put(self, message: OutgoingMessage) -> None:
        check_bounds(message, len(self._queue), self._bytes, self.capacity, self.max_bytes)
        stored = self._insert(message, self._next_seq)
        self._next_seq += 1
        self._queue.append(stored)
        self._bytes += len(stored.payload)

    def track(self, message: OutgoingMessage) -> OutgoingMessage:
        stored = self._insert(message, self._next_seq)
        self._next_seq += 1
        self._in_flight[stored.seq] = stored
        return stored

    def take(self, limit: int) -> list[OutgoingMessage]:
        queue, in_flight = self._queue, self._in_flight
        taken = [queue.popleft() for _ in range(min(limit, len(queue)))]
        for message in taken:
            in_flight[message.seq] = message
        self._bytes -= sum(len(m.payload) for m in taken)
        return taken

    def put_front(self, messages: Iterable[OutgoingMessage]) -> None:
        returned: list[OutgoingMessage] = []
        for message in messages:
            if message.seq == 0:  # never stored: store it at the head
                message = self._insert(message, self._head_seq())
            self._in_flight.pop(message.seq, None)
            returned.append(message)
        if not returned:
            return
        returned.sort(key=lambda m: m.seq)
        self._bytes += sum(len(m.payload) for m in returned)
        queue = self._queue
        if not queue or returned[-1].seq < queue[0].seq:
            queue.extendleft(reversed(returned))
        else:  # interleaved with queued messages: keep the order of acceptance
            merged = sorted([*returned, *queue], key=lambda m: m.seq)
            queue.clear()
            queue.extend(merged)

    def done(self, messages: Iterable[OutgoingMessage]) -> None:
        seqs = [(m.seq,) for m in messages if m.seq]
        for (seq,) in seqs:
            self._in_flight.pop(seq, None)
        db = self._db
        if not seqs or db is None:
            return  # closed: the rows stay and are sent again by the next start
        try:
            if len(seqs) == 1:
                db.execute("DELETE FROM outbox WHERE seq = ?", seqs[0])
            else:
                with _transaction(db):
                    db.executemany("DELETE FROM outbox WHERE seq = ?", seqs)
        except sqlite3.Error as exc:
            # Still on disk: the next start sends them again (receivers' dedupe drops them).
            if not self._write_failing:
                _LOG.error("offline queue %s: cannot forget sent messages: %s", self._path, exc)
            self._write_failing = True
        else:
            self._write_failing = False

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    # ------------------------------------------------------------------ disk

    def _head_seq(self) -> int:
        lowest = [m.seq for m in (*self._queue, *self._in_flight.values())]
        return min([*lowest, 1]) - 1

    def _insert(self, message: OutgoingMessage, seq: int) -> OutgoingMessage:
        db = self._db
        if db is None:
            raise PublishError(message.topic, "offline queue closed", qos=message.qos)
        try:
            db.execute(
                "INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    message.topic,
                    message.payload,
                    message.qos,
                    int(message.retain),
                    _dump_properties(message.properties),
                    time.time(),
                ),
            )
        except (sqlite3.Error, ValueError) as exc:  # ValueError: e.g. a lone surrogate
            raise PublishError(
                message.topic, f"cannot write offline queue {self._path}: {exc}", qos=message.qos
            ) from None
        return message._replace(seq=seq)

    def _open(self) -> sqlite3.Connection:
        path = self._path
        if path.exists() and not path.is_file():
            raise OutboxError(str(path), "is not a regular file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxError(str(path), f"cannot create its folder: {exc}") from None
        try:
            db = sqlite3.connect(path, timeout=0.5, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise OutboxError(str(path), f"cannot be opened: {exc}") from None
        try:
            self._prepare(db)
            self._load(db)
        except BaseException:
            db.close()
            raise
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        path = str(self._path)
        try:
            # EXCLUSIVE before the first WAL access: no shared-memory file, one process only.
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            fresh = app_id == 0 and not tables
            if not fresh and app_id != APPLICATION_ID:
                raise OutboxError(path, "is an SQLite database of another program; not touching it")
            if version > SCHEMA_VERSION:
                raise OutboxError(path, f"written by a newer mqttwire (layout {version})")
            check = [row[0] for row in db.execute("PRAGMA quick_check")]
            if check != ["ok"]:
                raise _CorruptFile("; ".join(map(str, check[:3])))
            if not fresh and (version != SCHEMA_VERSION or "outbox" not in tables):
                raise _CorruptFile(f"unknown layout (version {version}, tables {sorted(tables)})")
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(path, f"cannot use WAL mode (journal_mode is {mode})")
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            with _transaction(db):  # also takes the exclusive lock for as long as we are open
                if fresh:
                    db.execute(_SCHEMA)
                    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise _classify(path, exc) from None

    def _load(self, db: sqlite3.Connection) -> None:
        # The loop clock (time.monotonic on asyncio's loops) that matches each message's age.
        now_wall, now_loop = time.time(), time.monotonic()
        try:
            rows = db.execute("SELECT * FROM outbox ORDER BY seq").fetchall()
        except sqlite3.Error as exc:
            raise _classify(str(self._path), exc) from None
        for seq, topic, payload, qos, retain, properties, accepted_at in rows:
            try:
                if not isinstance(topic, str) or not isinstance(payload, bytes):
                    raise TypeError("topic or payload of the wrong type")
                if qos not in (0, 1, 2) or retain not in (0, 1):
                    raise ValueError(f"qos {qos!r}, retain {retain!r}")
                age = max(0.0, now_wall - float(accepted_at))
                message = OutgoingMessage(
                    topic,
                    payload,
                    qos,
                    bool(retain),
                    _load_properties(properties),
                    now_loop - age,
                    seq,
                )
            except (TypeError, ValueError, KeyError) as exc:
                raise _CorruptFile(f"row {seq}: {exc}") from None
            self._queue.append(message)
            self._bytes += len(payload)

    def _move_aside(self, reason: str) -> OutboxCorruptError:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self._path.with_name(f"{self._path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self._path.with_name(f"{self._path.name}.corrupt-{stamp}-{n}")
        try:
            for suffix in ("-wal", "-shm", "-journal"):
                side = self._path.with_name(self._path.name + suffix)
                if side.exists():
                    side.rename(target.with_name(target.name + suffix))
            self._path.rename(target)
        except OSError as exc:
            raise OutboxError(
                str(self._path), f"corrupt ({reason}) and cannot be moved aside: {exc}"
            ) from None
        error = OutboxCorruptError(str(self._path), reason, moved_to=str(target))
        _LOG.error("%s; starting with an empty offline queue", error)
        return error


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _classify(path: str, exc: sqlite3.Error) -> Exception:
    name = getattr(exc, "sqlite_errorname", "")
    if name in _CORRUPT or name.startswith("SQLITE_CORRUPT"):
        return _CorruptFile(str(exc))
    if name in _BUSY or name.startswith("SQLITE_BUSY"):
        return OutboxError(path, "in use by another process (one file per running client)")
    return OutboxError(path, f"cannot be used: {exc} ({name or type(exc).__name__})")


def _dump_properties(props: MessageProperties | None) -> str | None:
    if not props:
        return None
    return json.dumps(
        {
            "content_type": props.content_type,
            "payload_format_indicator": props.payload_format_indicator,
            "message_expiry_interval": props.message_expiry_interval,
            "response_topic": props.response_topic,
            "correlation_data": (
                props.correlation_data.hex() if props.correlation_data is not None else None
            ),
            "user_properties": [list(pair) for pair in props.user_properties],
        }
    )


def _load_properties(text: object) -> MessageProperties | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError("properties of the wrong type")
    data = json.loads(text)  # JSONDecodeError is a ValueError
    correlation = data["correlation_data"]
    return MessageProperties(
        content_type=data["content_type"],
        payload_format_indicator=data["payload_format_indicator"],
        message_expiry_interval=data["message_expiry_interval"],
        response_topic=data["response_topic"],
        correlation_data=bytes.fromhex(correlation) if correlation is not None else None,
        user_properties=tuple((str(k), str(v)) for k, v in data["user_properties"]),
    )
