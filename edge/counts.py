"""The durable log of compliance counts: SQLite in WAL mode, one row per counted person.

Rows hold the time, label, confidence and track length, never an image. Every count is
committed on its own, so a power cut or kill -9 loses at most the count being written. A count
stamped while the system clock was not synchronised (``edge.clock``) says so (``clock``) and keeps
its boot and uptime, so that it is moved to its true time once the clock is set (``correct``).

The database is proven at start: a missing folder, a folder, a file that is not SQLite, another
program's SQLite file, a read-only or locked one, and one another edge-run is counting into are refused
with one line before anything is counted. When it cannot be written later (full disk, a lock held by
another program) counts wait in memory and are written on the next successful attempt; detection and
alerts go on meanwhile, and ``lost`` says how many never made it, so the run can end in an error rather
than exit 0.
"""

import fcntl
import logging
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from .clock import SystemClock, uptime
from .errors import ConfigError, CountsError
from .policy import WORDS

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,            -- unix time, UTC
    label TEXT NOT NULL,
    confidence REAL NOT NULL,
    track_frames INTEGER NOT NULL,
    clock TEXT,                  -- NULL: stamped by a synchronised clock; 'unsynced'; 'corrected'
    boot TEXT,                   -- unsynced and corrected counts: the boot's id and the uptime (s) they
    uptime REAL                  -- were counted at
)
"""
# Columns added since the first release: a database from before gets them (NULL: a synchronised clock).
ADDED = {"clock": "TEXT", "boot": "TEXT", "uptime": "REAL"}
UNSYNCED, CORRECTED = "unsynced", "corrected"
# The counts a message broker has not acknowledged yet (edge.mqtt): written with the count, in one
# transaction, deleted on the broker's acknowledgement. Counted while MQTT was off: never in it.
OUTBOX = "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY REFERENCES counts (id))"
COLUMNS = ["id", "ts", "label", "confidence", "track_frames"]  # the first release's
# SQLite's header field for "which program's file is this": 'MWc1', set on every database edge-run makes.
APPLICATION_ID = 0x4D576331
SQLITE_HEADER = b"SQLite format 3\x00"
MEMORY = ":memory:"  # benchmarks count without keeping anything
PERIODS = {"day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00"}


def _refuse(path: Path) -> str | None:
    """Why ``path`` cannot hold the counts, judged before SQLite opens it; None when it can."""
    try:
        return _refuse_reachable(path)
    except PermissionError:
        return f"cannot reach {path} (permission denied on one of its folders) — check the folders' permissions"


def _refuse_reachable(path: Path) -> str | None:
    if path.is_dir():
        return f"{path} is a folder — give --db a file path, such as {path / 'counts.db'}"
    if not path.parent.is_dir():
        return (f"the folder {path.parent} for the counts database does not exist — create it "
                f"(mkdir -p {path.parent}) or give --db a path in an existing folder")
    if path.exists():
        try:
            with open(path, "rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except OSError as exc:
            return f"cannot read {path} ({(exc.strerror or 'unreadable').lower()}) — check its permissions"
        if head and head != SQLITE_HEADER:
            return f"{path} is not an SQLite database — move it away, or give --db another file"
    return None


def _explain(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return f"{path} cannot be written (read-only file or file system) — give --db a writable path"
    if "locked" in text or "busy" in text:
        return f"{path} is locked by another program — stop it, or give --db another file"
    if "not a database" in text or "malformed" in text:
        return f"{path} is damaged (not a readable SQLite database) — move it away; edge-run then starts a new one"
    if "full" in text:
        return f"the disk holding {path} is full — free some space"
    if "unable to open" in text:
        return f"cannot create or open {path} — check that its folder is writable"
    return f"cannot open or write {path} (SQLite: {exc}) — check the folder's permissions and free space"


def _adopt(db: sqlite3.Connection, path: Path) -> dict[str, int]:
    """Make ``db`` edge-run's and return its counts per label, or refuse it, unchanged, if it is another
    program's or damaged."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    tables = sorted(name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
    ours = app_id == APPLICATION_ID or (
        app_id == 0 and tables in ([], ["counts"])
        # a file written by an edge-run from before the application id: the same table, column for column
        and (not tables or [row[1] for row in db.execute("PRAGMA table_info(counts)")][:len(COLUMNS)] == COLUMNS))
    if not ours:
        owner = f"tables {', '.join(tables)}" if tables else f"application id {app_id:#x}"
        raise CountsError(f"{path} is another program's SQLite database ({owner}) — give edge-run a file of its own")
    # Reads every row's label before anything is written: a damaged file is refused as it is.
    totals = dict(db.execute("SELECT label, COUNT(*) FROM counts GROUP BY label").fetchall()) if tables else {}
    # Writes now, so a read-only or locked file is found before anyone is counted.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    with db:
        db.execute(SCHEMA)
        db.execute(OUTBOX)
        have = {row[1] for row in db.execute("PRAGMA table_info(counts)")}
        for column, kind in ADDED.items():
            if column not in have:
                db.execute(f"ALTER TABLE counts ADD COLUMN {column} {kind}")
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    return totals


def _claim(path: Path) -> int | None:
    """An exclusive lock on ``path`` held for this store's life (released by the kernel however the process
    ends): a second edge-run on the same database would count into it too, each reporting wrong totals and
    sending the same rows under two devices. flock, not SQLite's own locks: readers (edge-report, the MQTT
    outbox) stay free. None when the file cannot be opened: SQLite then says why in its own words."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CountsError(f"{path} is in use by another edge-run — stop it, or give --db another file "
                          "(two runs counting into one database report each other's people)") from None
    return fd


class CountStore:
    def __init__(self, path: Path | str, retry_every: float = 5.0, clock=time.monotonic, outbox: bool = False,
                 wall: SystemClock | None = None):
        """``outbox``: also queue each count for the message broker (edge.mqtt reads the queue). ``wall``: the
        system clock whose trust decides how counts are stamped (None: trusted, as for benchmarks)."""
        self.path = Path(path) if str(path) != MEMORY else MEMORY
        self.retry_every, self._clock, self._retry_at = retry_every, clock, float("-inf")
        self.outbox = outbox
        self.wall = wall or SystemClock("trusted")
        self.pending: list[tuple] = []  # rows as INSERT takes them
        self.lost = 0  # counts that could not be written before close()
        self.write_failures = 0  # failed attempts to write (a full disk, a lock), for the metrics
        self._session: dict[str, int] = {}  # counted since this store was opened
        self._lock: int | None = None  # the file descriptor holding the one-writer lock
        self._db, self._totals = self._open()

    def _open(self) -> tuple[sqlite3.Connection, dict[str, int]]:
        """The database, proven writable, and its counts per label; CountsError (one line) when it cannot
        hold the counts."""
        if self.path != MEMORY:
            if (reason := _refuse(self.path)) is not None:
                raise CountsError(reason)
            self._lock = _claim(self.path)
        try:
            # A short wait on a lock: the frame loop must not hang on a program holding the file.
            db = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
        except sqlite3.Error as exc:
            self._release()
            raise CountsError(_explain(self.path, exc)) from None
        try:
            totals = _adopt(db, self.path)
        except sqlite3.Error as exc:
            db.close()
            self._release()
            raise CountsError(_explain(self.path, exc)) from None
        except CountsError:
            db.close()
            self._release()
            raise
        return db, totals

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def add(self, label: str, confidence: float, track_frames: int, ts: float | None = None) -> None:
        row = (time.time() if ts is None else ts, label, float(confidence), int(track_frames))
        trusted = self.wall.trusted()
        self.pending.append((*row, None, None, None) if trusted else (*row, UNSYNCED, self.wall.boot, uptime()))
        self._session[label] = self._session.get(label, 0) + 1
        self.flush()

    def correct(self) -> tuple[int, float]:
        """Move this boot's unsynchronised counts to their true time, once the clock is trusted: (how many,
        by how many seconds). Counts of an earlier boot cannot be: their uptime's origin is gone."""
        if self._db is None or not self.wall.trusted():
            return 0, 0.0
        offset = self.wall.offset()
        self.flush(force=True)
        try:
            with self._db:
                moved = self._db.execute("SELECT AVG(uptime + ? - ts) FROM counts WHERE clock = ? AND boot = ?",
                                         (offset, UNSYNCED, self.wall.boot)).fetchone()[0]
                n = self._db.execute("UPDATE counts SET ts = uptime + ?, clock = ? WHERE clock = ? AND boot = ?",
                                     (offset, CORRECTED, UNSYNCED, self.wall.boot)).rowcount
        except sqlite3.Error as exc:
            log.error("putting right the counts stamped before the clock was set failed: %s; will retry",
                      _explain(self.path, exc))
            return 0, 0.0
        return n, moved or 0.0

    def flush(self, force: bool = False) -> bool:
        """Write waiting counts; True when none are left waiting.

        After a failure, further attempts wait ``retry_every`` seconds unless ``force``d, so a
        full disk is not hammered (and logged about) on every frame.
        """
        if not self.pending:
            return True
        if not force and self._clock() < self._retry_at:
            return False
        if not self._write():
            self._retry_at = self._clock() + self.retry_every
            return False
        return True

    def _write(self) -> bool:
        try:
            with self._db:
                for row in self.pending:
                    written = self._db.execute("INSERT INTO counts (ts, label, confidence, track_frames, clock, "
                                               "boot, uptime) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
                    if self.outbox:
                        self._db.execute("INSERT INTO outbox (id) VALUES (?)", (written.lastrowid,))
        except sqlite3.Error as exc:
            self.write_failures += 1
            log.error("writing %d count(s) failed: %s; will retry", len(self.pending), _explain(self.path, exc))
            return False
        for row in self.pending:
            self._totals[row[1]] = self._totals.get(row[1], 0) + 1
        self.pending.clear()
        return True

    def totals(self) -> dict[str, int]:
        """Counts per label in the database, written and waiting; kept in memory, cheap enough for every frame."""
        counts = dict(self._totals)
        for row in self.pending:
            counts[row[1]] = counts.get(row[1], 0) + 1
        return counts

    def session(self) -> dict[str, int]:
        """Counts per label since this store was opened (this run)."""
        return dict(self._session)

    def close(self) -> int:
        """Flush and close; the number of counts that could not be written (also kept in ``lost``)."""
        if self._db is None:
            return self.lost
        if not self.flush(force=True):
            self.lost = len(self.pending)
            log.error("%d count(s) could not be written to %s and are lost", self.lost, self.path)
        self._db.close()
        self._db = None
        self._release()
        return self.lost


# Reading the counts back (edge-report, the live view): read-only, so safe while edge-run writes.

def midnight(now: float) -> float:
    """The unix time of the local midnight before ``now``: where "today's counts" begin."""
    return datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def read_counts(db: Path, since: float | None) -> list[tuple[float, str]]:
    """(ts, label) of the counts from ``since`` on, oldest first."""
    return _read(db, lambda c: c.execute("SELECT ts, label FROM counts WHERE ts >= ? ORDER BY ts",
                                         (since or 0.0,)).fetchall())


def read_unsynced(db: Path, since: float | None) -> int:
    """How many counts from ``since`` on were stamped by an unsynchronised clock and never put right (their
    day and hour may be wrong); 0 for a database from before the clock was recorded."""
    def unsynced(connection) -> int:
        if "clock" not in {row[1] for row in connection.execute("PRAGMA table_info(counts)")}:
            return 0
        return connection.execute("SELECT COUNT(*) FROM counts WHERE ts >= ? AND clock = ?",
                                  (since or 0.0, UNSYNCED)).fetchone()[0]

    return _read(db, unsynced)


def _read(db: Path, query):
    if not db.is_file():
        raise ConfigError(f"no counts database at {db} — pass edge-run's --db path "
                          "(the service keeps it in /var/lib/edge-run/counts.db)")
    wal = db.with_name(db.name + "-wal")
    try:
        try:
            return _select(db, "mode=ro", query)
        except sqlite3.OperationalError as exc:
            # A database in a folder this reader may not write (a read-only copy, another user's) cannot get
            # the shared-memory file WAL mode wants; with no write-ahead log to read, it is read as it lies.
            if "no such table" in str(exc) or (wal.is_file() and wal.stat().st_size > 0):
                raise
            return _select(db, "mode=ro&immutable=1", query)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            raise ConfigError(_no_counts(db)) from None
        raise ConfigError(f"cannot read {db} ({exc}): its write-ahead log {wal.name} needs a {db.name}-shm file "
                          "it cannot create here — copy the database and its -wal file to a folder you may "
                          "write, and pass that copy") from None
    except sqlite3.DatabaseError:
        raise ConfigError(_no_counts(db)) from None


def _select(db: Path, mode: str, query):
    with sqlite3.connect(f"file:{db}?{mode}", uri=True) as connection:
        return query(connection)


def _no_counts(db: Path) -> str:
    with open(db, "rb") as f:
        sqlite = f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    if sqlite:
        return (f"{db} is an SQLite file with no counts table — pass edge-run's --db path; a copy taken while "
                f"edge-run was writing needs its {db.name}-wal file beside it")
    return f"{db} is not an edge-run counts database (not SQLite) — pass edge-run's --db path"


def group(rows, period: str, utc: bool) -> tuple[list[str], dict[str, dict[str, int]]]:
    """(labels, {period: {label: n}}), periods in time order; the product's three labels are always there."""
    fmt = PERIODS[period]
    groups: dict[str, dict[str, int]] = {}
    labels: set[str] = set()
    for ts, label in rows:
        key = datetime.fromtimestamp(ts, UTC if utc else None).strftime(fmt)
        groups.setdefault(key, {})
        groups[key][label] = groups[key].get(label, 0) + 1
        labels.add(label)
    return [*WORDS, *sorted(labels - set(WORDS))], groups


class Outbox:
    """The counts waiting for the broker, oldest first, on a connection of its own: the publisher's
    thread reads and clears it while the frame loop's store writes."""

    def __init__(self, path: Path):
        self._db = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False)
        self._today: tuple[tuple, tuple[dict[str, int], float | None]] | None = None

    def waiting(self, after: int, limit: int) -> list[tuple[int, float, str, float, int, str | None]]:
        """Up to ``limit`` rows (id, ts, label, confidence, track_frames, clock) after row ``after``."""
        return self._db.execute("SELECT c.id, c.ts, c.label, c.confidence, c.track_frames, c.clock FROM outbox o "
                                "JOIN counts c ON c.id = o.id WHERE o.id > ? ORDER BY o.id LIMIT ?",
                                (after, limit)).fetchall()

    def done(self, ids: list[int]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def size(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def today(self, since: float) -> tuple[dict[str, int], float | None]:
        """Counts per label since ``since`` and the time of the last count. The table has no index on
        the time, so it is read again only when a count was added or ``since`` moved (the newest row
        id is a lookup, the counts a scan of the table)."""
        key = (since, self._db.execute("SELECT MAX(id) FROM counts").fetchone()[0])
        if self._today is None or self._today[0] != key:
            rows = self._db.execute("SELECT label, COUNT(*), MAX(ts) FROM counts WHERE ts >= ? GROUP BY label",
                                    (since,)).fetchall()
            self._today = (key, ({label: n for label, n, _ in rows},
                                 max((last for _, _, last in rows), default=None)))
        return self._today[1]

    def close(self) -> None:
        self._db.close()
