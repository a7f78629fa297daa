"""``edge-report``: compliance counts per day and per hour from edge-run's database.

Opens the database read-only, so it is safe while edge-run is writing.

Usage::

    edge-report --db /var/lib/edge-run/counts.db            # per day, then per hour
    edge-report --db counts.db --by hour --since 2026-11-01 --csv hours.csv
"""

import argparse
import csv
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..policy import DEFAULT, OK, WORDS
from . import Parser, comma_list

PERIODS = {"day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00"}


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="edge-report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", type=Path, default=Path("counts.db"), help="edge-run's counts database")
    p.add_argument("--by", choices=("day", "hour", "both"), default="both", help="grouping of the printed tables")
    p.add_argument("--since", default=None, help="only counts from this date or time on (YYYY-MM-DD[ HH:MM])")
    p.add_argument("--violation", type=comma_list, default=[label for label, severity in DEFAULT.items()
                                                             if severity != OK],
                   help="the labels that are not compliant (violations and warnings), comma-separated")
    p.add_argument("--utc", action="store_true", help="group by UTC instead of the local time zone")
    p.add_argument("--csv", type=Path, default=None, help="write the rows (day, or hour with --by hour) as CSV")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def read_counts(db: Path, since: float | None) -> list[tuple[float, str]]:
    from ..errors import ConfigError

    if not db.is_file():
        raise ConfigError(f"no counts database at {db} — pass edge-run's --db path "
                          "(the service keeps it in /var/lib/edge-run/counts.db)")
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT ts, label FROM counts WHERE ts >= ? ORDER BY ts",
                                       (since or 0.0,)).fetchall()
    except sqlite3.DatabaseError:
        raise ConfigError(f"{db} is not an edge-run counts database (not SQLite, or no counts table in it) — "
                          "pass edge-run's --db path") from None


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


def table_rows(labels, groups, violation: list[str]):
    for key, counts in groups.items():
        total = sum(counts.values())
        compliant = total - sum(counts.get(label, 0) for label in violation)
        yield [key, *[counts.get(label, 0) for label in labels], total, f"{100.0 * compliant / total:.1f}"]


def body(args) -> int:
    from ..errors import ConfigError

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since).timestamp()
        except ValueError:
            raise ConfigError(f"--since {args.since!r} is not a date — write e.g. 2026-11-01 or "
                              "'2026-11-01 08:00'") from None
    rows = read_counts(args.db, since)
    if not rows:
        print(f"no counts in {args.db}" + (f" since {args.since}" if args.since else ""))
        return 0
    periods = ("day", "hour") if args.by == "both" else (args.by,)
    tables = {period: group(rows, period, args.utc) for period in periods}
    for period, (labels, groups) in tables.items():
        header = [period, *labels, "total", "compliance %"]
        widths = [18, *[max(10, len(h) + 2) for h in header[1:]]]
        print(f"\ncounts per {period}" + (" (UTC)" if args.utc else ""))
        for cells in (header, *table_rows(labels, groups, args.violation)):
            print(f"{cells[0]:<{widths[0]}}" + "".join(f"{c!s:>{w}}" for c, w in zip(cells[1:], widths[1:],
                                                                                     strict=True)))
    if args.csv:
        period = periods[0]  # day, unless --by hour
        labels, groups = tables[period]
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([period, *labels, "total", "compliance_percent"])
            writer.writerows(table_rows(labels, groups, args.violation))
        print(f"\nwrote {args.csv}")
    return 0


def main(argv=None) -> int:
    from . import run_main

    return run_main("edge-report", body, parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
