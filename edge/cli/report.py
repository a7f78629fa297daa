"""``edge-report``: compliance counts per day and per hour from edge-run's database.

Opens the database read-only, so it is safe while edge-run is writing.

Usage::

    edge-report --db /var/lib/edge-run/counts.db            # per day, then per hour
    edge-report --db counts.db --by hour --since 2026-11-01 --csv hours.csv
"""

import argparse
import csv
import sys
from datetime import datetime
from pathlib import Path

from ..counts import group, read_counts
from ..policy import DEFAULT, OK
from . import Parser, comma_list


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
