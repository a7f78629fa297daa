"""A clock no time service has set (a Pi without an RTC, before NTP): counts are marked, kept with their boot
and uptime, moved to their true time once it is set, and said as such in the log, edge-report, MQTT and the
view. Real SQLite throughout; the kernel's answer is injected where a test needs it to change."""

import logging
import sqlite3
import time

import pytest

from edge.cli.report import main as edge_report
from edge.clock import SystemClock, boot_id, kernel_synchronised, uptime
from edge.counts import CORRECTED, UNSYNCED, CountStore, read_counts, read_unsynced
from edge.door import Door
from edge.mqtt import messages
from edge.policy import Policy
from edge.runner import Runner

WRONG = time.mktime((2025, 3, 1, 12, 0, 0, 0, 0, -1))  # the time a Pi restored from its last shutdown


class Kernel:
    """What adjtimex says: not synchronised until ``synchronised`` is set."""

    def __init__(self):
        self.synchronised, self.asked = False, 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.synchronised


class Ticks:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def rows(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT ts, label, clock, boot, uptime FROM counts ORDER BY id").fetchall()


def test_the_kernel_is_asked_for_real_and_its_answer_is_a_yes_or_no():
    assert kernel_synchronised() in (True, False)  # Linux answers; None is for systems without adjtimex
    assert boot_id() and len(boot_id()) == 36 and uptime() > 0


def test_the_kernel_is_asked_again_only_every_few_seconds_and_never_once_it_said_yes():
    kernel, ticks = Kernel(), Ticks()
    clock = SystemClock("auto", synchronised=kernel, monotonic=ticks)
    assert not clock.trusted() and not clock.trusted() and kernel.asked == 1
    ticks.now, kernel.synchronised = 10.0, True
    assert clock.trusted() and kernel.asked == 2
    ticks.now, kernel.synchronised = 100.0, False  # a step backwards of the kernel's flag changes nothing now
    assert clock.trusted() and kernel.asked == 2
    assert SystemClock("trusted", synchronised=kernel).trusted() and kernel.asked == 2
    assert SystemClock("auto", synchronised=lambda: None).trusted()  # cannot tell: nothing is claimed


def test_counts_stamped_before_the_clock_is_set_are_moved_to_their_true_time_once_it_is(tmp_path, caplog):
    kernel, ticks = Kernel(), Ticks()
    db = tmp_path / "counts.db"
    store = CountStore(db, wall=SystemClock("auto", synchronised=kernel, monotonic=ticks))
    runner = Runner(None, None, store, None, None, None, policy=Policy({}), source_name="door",
                    stall_timeout=30, summary_every=60)
    with caplog.at_level(logging.INFO, logger="edge-run"):
        runner.check_wall_clock()
        store.add("with_mask", 0.9, 5, ts=WRONG)
        store.add("without_mask", 0.8, 5, ts=WRONG + 60)
        assert [(r[2], r[3]) for r in rows(db)] == [(UNSYNCED, store.wall.boot)] * 2 and store.wall.boot
        assert all(abs(r[4] - uptime()) < 60 for r in rows(db))
        assert read_unsynced(db, None) == 2
        runner.check_wall_clock()  # nothing new to say
        ticks.now, kernel.synchronised = 30.0, True
        runner.check_wall_clock()
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith("the system clock is not synchronised") and "timedatectl" in said[0]
    assert len(said) == 2 and said[1].startswith("the system clock is synchronised: 2 count(s) stamped before it "
                                                 "were moved by +")
    now = time.time()
    assert [(r[1], r[2]) for r in rows(db)] == [("with_mask", CORRECTED), ("without_mask", CORRECTED)]
    assert all(now - 60 < r[0] <= now + 1 for r in rows(db))  # today, not on the day the clock said
    assert read_unsynced(db, None) == 0
    store.add("with_mask", 0.9, 5)
    assert rows(db)[-1][2:] == (None, None, None)  # stamped by a synchronised clock: nothing to keep
    store.close()


def test_counts_of_an_earlier_boot_cannot_be_put_right_and_edge_report_says_so(tmp_path, capsys):
    db = tmp_path / "counts.db"
    store = CountStore(db, wall=SystemClock("auto", synchronised=lambda: False))
    store.add("with_mask", 0.9, 5, ts=WRONG)
    store.close()
    with sqlite3.connect(db) as connection:  # the device rebooted before NTP answered
        connection.execute("UPDATE counts SET boot = 'an-earlier-boot'")
    store = CountStore(db, wall=SystemClock("auto", synchronised=lambda: True))
    assert store.correct() == (0, 0.0)
    store.add("without_mask", 0.9, 5)
    store.close()
    assert read_unsynced(db, None) == 1
    assert edge_report(["--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "2025-03-01" in out and out.rstrip().endswith("their day and hour may be wrong")
    assert "note: 1 of these count(s) were stamped while the device's clock was not synchronised" in out
    assert edge_report(["--db", str(db), "--since", "2026-01-01"]) == 0
    assert "note:" not in capsys.readouterr().out  # the doubtful count is not in this range


def test_a_database_from_before_the_clock_column_gets_it_and_keeps_its_counts(tmp_path):
    db = tmp_path / "counts.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE counts (id INTEGER PRIMARY KEY, ts REAL NOT NULL, label TEXT NOT NULL, "
                           "confidence REAL NOT NULL, track_frames INTEGER NOT NULL)")
        connection.execute("INSERT INTO counts (ts, label, confidence, track_frames) VALUES (?, 'with_mask', 0.9, 4)",
                           (WRONG,))
    assert read_unsynced(db, None) == 0  # read as it lies, unchanged
    store = CountStore(db, wall=SystemClock("auto", synchronised=lambda: False))
    assert store.totals() == {"with_mask": 1}
    store.add("without_mask", 0.9, 5)
    store.close()
    assert [r[2] for r in rows(db)] == [None, UNSYNCED] and len(read_counts(db, None)) == 2


def test_an_mqtt_event_says_its_time_came_from_an_unsynchronised_clock():
    import json

    policy = Policy({"without_mask": "violation"})
    synced = json.loads(messages.event("door", (1, WRONG, "with_mask", 0.9, 4, None), policy, "m"))
    unsynced = json.loads(messages.event("door", (2, WRONG, "with_mask", 0.9, 4, UNSYNCED), policy, "m"))
    corrected = json.loads(messages.event("door", (3, WRONG, "with_mask", 0.9, 4, CORRECTED), policy, "m"))
    assert (synced["clock_synchronised"], unsynced["clock_synchronised"], corrected["clock_synchronised"]) == (
        True, False, True)


def test_the_live_view_says_the_clock_is_not_synchronised(tmp_path):
    from edge.view.server import LiveView

    db = tmp_path / "counts.db"
    wall = SystemClock("auto", synchronised=lambda: False)
    store = CountStore(db, wall=wall)
    store.add("with_mask", 0.9, 5)
    view = LiveView(("127.0.0.1", 0), 5.0, None, {}, db, Policy({}), ["with_mask"], None, Door())
    try:
        view.wall = wall
        status = view.status()
    finally:
        view.close()
        store.close()
    assert status["clock_synchronised"] is False and status["today"]["unsynced"] == 1


@pytest.mark.parametrize("value", ["maybe", "yes"])
def test_the_clock_key_takes_auto_or_trusted(value):
    from edge import config as configs
    from edge.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[output\] clock"):
        configs.from_dict({"output": {"clock": value}})
    assert configs.from_dict({"output": {"clock": "trusted"}}).output.clock == "trusted"
