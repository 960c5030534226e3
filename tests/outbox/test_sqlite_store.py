"""The SQLite outbox on its own: order, bounds, reopening, and files it must not trust."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from mqttwire.errors import OfflineQueueFullError, OutboxCorruptError, OutboxError, PublishError
from mqttwire.offline_queue import OutgoingMessage
from mqttwire.sqlite_outbox import SqliteOutbox
from mqttwire.transport import MessageProperties


def msg(n: int, size: int = 10) -> OutgoingMessage:
    return OutgoingMessage(f"t/{n}", bytes([n % 256]) * size, 1, False)


def payloads(messages: list[OutgoingMessage]) -> list[bytes]:
    return [m.payload for m in messages]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


def test_fifo_and_reopen_keeps_everything_not_done_in_order(path: Path) -> None:
    store = SqliteOutbox(path, 100)
    for n in range(5):
        store.put(msg(n))
    first, second = store.take(2)
    store.done([first])  # acknowledged: forgotten
    assert len(store) == 3 and store.in_flight == 1
    store.close()  # ``second`` was in flight: it must come back

    again = SqliteOutbox(path, 100)
    assert payloads(again.take(10)) == payloads([second, msg(2), msg(3), msg(4)])
    again.close()


def test_requeued_messages_keep_the_order_they_were_accepted_in(path: Path) -> None:
    store = SqliteOutbox(path, 100)
    live = [store.track(msg(n)) for n in range(3)]  # published on a live link, in flight
    store.put(msg(3))  # the link dropped: later publishes queue
    store.put(msg(4))
    # Their sends fail in any order; the queue is still in publish() order.
    for message in reversed(live):
        store.put_front([message])
    assert payloads(store.take(10)) == payloads([msg(n) for n in range(5)])
    store.close()


def test_a_message_never_stored_goes_back_to_the_head_and_to_disk(path: Path) -> None:
    store = SqliteOutbox(path, 100)
    store.put(msg(1))
    store.put_front([msg(0)])
    store.close()
    again = SqliteOutbox(path, 100)
    assert payloads(again.take(10)) == payloads([msg(0), msg(1)])
    again.close()


def test_bounded_by_count(path: Path) -> None:
    store = SqliteOutbox(path, 3)
    for n in range(3):
        store.put(msg(n))
    with pytest.raises(OfflineQueueFullError) as info:
        store.put(msg(3))
    assert info.value.capacity == 3 and info.value.max_bytes is None
    store.close()
    again = SqliteOutbox(path, 3)  # the bound holds for what was loaded, too
    with pytest.raises(OfflineQueueFullError):
        again.put(msg(3))
    assert len(again) == 3
    again.close()


def test_bounded_by_payload_bytes(path: Path) -> None:
    store = SqliteOutbox(path, 100, max_bytes=25)
    store.put(msg(0, 10))
    store.put(msg(1, 10))
    with pytest.raises(OfflineQueueFullError) as info:
        store.put(msg(2, 10))
    assert info.value.max_bytes == 25 and "25 payload bytes" in str(info.value)
    store.put(msg(3, 5))  # fits exactly
    assert store.payload_bytes == 25
    taken = store.take(1)
    assert store.payload_bytes == 15
    store.put_front(taken)  # accepted already: back even beyond the bound
    assert store.payload_bytes == 25 and len(store) == 3
    store.close()


def test_properties_and_age_survive_a_restart(path: Path) -> None:
    props = MessageProperties(
        content_type="application/json",
        payload_format_indicator=1,
        message_expiry_interval=60,
        response_topic="r/1",
        correlation_data=b"\x00\xff",
        user_properties=(("a", "1"), ("a", "2")),
    )
    store = SqliteOutbox(path, 10)
    store.put(OutgoingMessage("t", b"x", 2, True, props, 1.0))
    store.close()
    before = time.monotonic()
    again = SqliteOutbox(path, 10)
    (loaded,) = again.take(1)
    assert (loaded.topic, loaded.payload, loaded.qos, loaded.retain) == ("t", b"x", 2, True)
    assert loaded.properties == props
    # Queued before the reopen: its loop time is in the past, so the expiry counts it.
    assert 0 < loaded.queued_at <= before
    again.close()


def test_a_second_process_cannot_open_a_file_in_use(path: Path) -> None:
    store = SqliteOutbox(path, 10)
    with pytest.raises(OutboxError) as info:
        SqliteOutbox(path, 10)
    assert info.value.path == str(path) and "in use" in info.value.reason
    store.close()
    SqliteOutbox(path, 10).close()  # free again once closed


def test_a_closed_store_keeps_what_was_not_acknowledged(path: Path) -> None:
    store = SqliteOutbox(path, 10)
    held = store.track(msg(7))
    store.close()
    store.done([held])  # too late (shutdown raced the ack): kept, sent again next time
    again = SqliteOutbox(path, 10)
    assert payloads(again.take(10)) == [held.payload]
    again.close()


def _assert_moved_aside(
    store: SqliteOutbox, path: Path, original: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    error = store.moved_aside
    assert isinstance(error, OutboxCorruptError)
    assert error.path == str(path)
    moved = Path(error.moved_to)
    assert moved.name.startswith("outbox.db.corrupt-")
    assert moved.read_bytes() == original  # kept for inspection, never emptied
    assert any(str(path) in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    assert len(store) == 0
    store.put(msg(1))  # a fresh, working file at the configured path
    store.close()
    assert len(SqliteOutbox(path, 10)) == 1


def test_a_file_that_is_not_a_database_is_moved_aside(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = b"this is not an SQLite file\n" * 200
    path.write_bytes(original)
    _assert_moved_aside(SqliteOutbox(path, 10), path, original, caplog)


def test_a_truncated_database_is_moved_aside(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SqliteOutbox(path, 1000)
    for n in range(300):
        store.put(msg(n, 1000))
    store.close()
    data = path.read_bytes()
    original = data[: len(data) // 2]
    path.write_bytes(original)
    _assert_moved_aside(SqliteOutbox(path, 10), path, original, caplog)


def test_a_row_that_does_not_decode_makes_the_file_corrupt(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    SqliteOutbox(path, 10).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO outbox VALUES (1, 't', x'00', 7, 0, NULL, 0)")  # qos 7
    db.commit()
    db.close()
    original = path.read_bytes()
    _assert_moved_aside(SqliteOutbox(path, 10), path, original, caplog)


def test_another_programs_database_is_not_touched(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('keep me')")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(OutboxError, match="another program"):
        SqliteOutbox(path, 10)
    assert path.read_bytes() == before
    assert not list(path.parent.glob("*.corrupt-*"))


def test_a_folder_is_not_a_queue_file(tmp_path: Path) -> None:
    with pytest.raises(OutboxError) as info:
        SqliteOutbox(tmp_path, 10)
    assert info.value.path == str(tmp_path) and "not a regular file" in str(info.value)


def test_a_path_below_a_file_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutboxError) as info:
        SqliteOutbox(blocker / "outbox.db", 10)
    assert str(blocker / "outbox.db") in str(info.value)
    assert blocker.read_text() == "x"


def test_missing_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "outbox.db"
    store = SqliteOutbox(path, 10)
    store.put(msg(1))
    store.close()
    assert len(SqliteOutbox(path, 10)) == 1


def test_a_write_that_fails_is_a_publish_error_and_nothing_is_queued(path: Path) -> None:
    store = SqliteOutbox(path, 10)
    with pytest.raises(PublishError) as info:
        store.put(OutgoingMessage("t/\ud800", b"x", 1, False))  # not encodable as UTF-8
    assert info.value.topic == "t/\ud800" and str(path) in info.value.reason
    assert len(store) == 0
    store.close()
    with pytest.raises(PublishError, match="closed"):
        store.put(msg(1))
