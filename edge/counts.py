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
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.pending: list[tuple[float, str, float, int]] = []
        self._db: sqlite3.Connection | None = None
        self._connect()

    def _connect(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            log.error("counts database %s not writable (%s); keeping counts in memory", self.path, exc)
            return False
        self._db = db
        return True

    def add(self, label: str, confidence: float, track_frames: int, ts: float | None = None) -> None:
        self.pending.append((time.time() if ts is None else ts, label, float(confidence), int(track_frames)))
        self.flush()

    def flush(self) -> bool:
        """Write waiting counts; True when none are left waiting."""
        if not self.pending:
            return True
        if self._db is None and not self._connect():
            return False
        try:
            with self._db:
                self._db.executemany(
                    "INSERT INTO counts (ts, label, confidence, track_frames) VALUES (?, ?, ?, ?)",
                    self.pending)
        except sqlite3.Error as exc:
            log.error("writing %d count(s) to %s failed (%s); will retry", len(self.pending), self.path, exc)
            return False
        self.pending.clear()
        return True

    def totals(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self._db is not None:
            for label, n in self._db.execute("SELECT label, COUNT(*) FROM counts GROUP BY label"):
                counts[label] = n
        for _, label, _, _ in self.pending:
            counts[label] = counts.get(label, 0) + 1
        return counts

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None
