"""The durable log of compliance counts: SQLite in WAL mode, one row per counted person.

Rows hold the time, label, confidence and track length, never an image. Every count is
committed on its own, so a power cut or kill -9 loses at most the count being written. When
the database cannot be written (read-only path, full disk) counts wait in memory and are
written on the next successful attempt; detection and alerts go on meanwhile.
"""

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,            -- unix time, UTC
    label TEXT NOT NULL,
    confidence REAL NOT NULL,
    track_frames INTEGER NOT NULL
)
"""


class CountStore:
    def __init__(self, path: Path | str, retry_every: float = 5.0, clock=time.monotonic):
        self.path = Path(path)
        self.retry_every, self._clock, self._retry_at = retry_every, clock, float("-inf")
        self.pending: list[tuple[float, str, float, int]] = []
        self._db: sqlite3.Connection | None = None
        self._totals: dict[str, int] | None = None  # the DB's totals, read once, then kept up to date
        self._connect()

    def _connect(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(SCHEMA)
            if self._totals is None:
                self._totals = dict(db.execute("SELECT label, COUNT(*) FROM counts GROUP BY label").fetchall())
        except (sqlite3.Error, OSError) as exc:
            log.error("counts database %s not writable (%s); keeping counts in memory", self.path, exc)
            return False
        self._db = db
        return True

    def add(self, label: str, confidence: float, track_frames: int, ts: float | None = None) -> None:
        self.pending.append((time.time() if ts is None else ts, label, float(confidence), int(track_frames)))
        self.flush()

    def flush(self, force: bool = False) -> bool:
        """Write waiting counts; True when none are left waiting.

        After a failure, further attempts wait ``retry_every`` seconds unless ``force``d, so a
        full disk is not hammered (and logged about) on every frame.
        """
        if not self.pending:
            return True
        if not force and self._clock() < self._retry_at:
            return False
        if (self._db is None and not self._connect()) or not self._write():
            self._retry_at = self._clock() + self.retry_every
            return False
        return True

    def _write(self) -> bool:
        try:
            with self._db:
                self._db.executemany(
                    "INSERT INTO counts (ts, label, confidence, track_frames) VALUES (?, ?, ?, ?)",
                    self.pending)
        except sqlite3.Error as exc:
            log.error("writing %d count(s) to %s failed (%s); will retry", len(self.pending), self.path, exc)
            return False
        for _, label, _, _ in self.pending:
            self._totals[label] = self._totals.get(label, 0) + 1
        self.pending.clear()
        return True

    def totals(self) -> dict[str, int]:
        """Counts per label, written and waiting; kept in memory, so cheap enough for every frame."""
        counts = dict(self._totals or {})
        for _, label, _, _ in self.pending:
            counts[label] = counts.get(label, 0) + 1
        return counts

    def close(self) -> None:
        if not self.flush(force=True):
            log.error("%d count(s) could not be written to %s and are lost", len(self.pending), self.path)
        if self._db is not None:
            self._db.close()
            self._db = None
