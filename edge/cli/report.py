"""``edge-report``: compliance counts per day and per hour from edge-run's database.

Opens the database read-only, so it is safe while edge-run is writing. With ``--mqtt``, reads every
doorway's retained state from the broker instead: one row per doorway and a total, today.

Usage::

    edge-report --db /var/lib/edge-run/counts.db            # per day, then per hour
    edge-report --db counts.db --by hour --since 2026-11-01 --csv hours.csv
    edge-report --mqtt broker.local --csv doors.csv         # every doorway publishing to that broker
"""

import argparse
import csv
import dataclasses
import sys
from datetime import datetime
from pathlib import Path

from .. import config as configs
from ..console import Parser, comma_list, number
from ..counts import group, read_counts, read_unsynced
from ..policy import DEFAULT, NOT_JUDGED, NOT_PEOPLE, OK, WORDS, people


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="edge-report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", type=Path, default=Path("counts.db"), help="edge-run's counts database")
    p.add_argument("--by", choices=("day", "hour", "both"), default="both", help="grouping of the printed tables")
    p.add_argument("--since", default=None, help="only counts from this date or time on (YYYY-MM-DD[ HH:MM])")
    p.add_argument("--violation", type=comma_list, default=[label for label, severity in DEFAULT.items()
                                                             if severity != OK],
                   help="the labels that are not compliant (violations and warnings), comma-separated")
    p.add_argument("--utc", action="store_true", help="group by UTC instead of the local time zone")
    p.add_argument("--csv", type=Path, default=None, help="write the rows (day, or hour with --by hour; "
                   "doorways with --mqtt) as CSV")
    fleet = p.add_argument_group("every doorway, from an MQTT broker (edge-run's [mqtt])")
    fleet.add_argument("--mqtt", metavar="HOST[:PORT]", default=None,
                       help="read the doorways' retained state from this broker instead of --db")
    for flag, kind in (("--mqtt-tls", "store_true"), ("--mqtt-ca-file", None), ("--mqtt-username", None),
                       ("--mqtt-password-file", None), ("--mqtt-topic", None)):
        key = flag[7:].replace("-", "_")
        field = next(f for f in dataclasses.fields(configs.MqttConfig) if f.name == key)
        fleet.add_argument(flag, action=kind, default=None, help=field.metadata["help"])
    fleet.add_argument("--wait", type=number(0.1, maximum=60), default=2.0,
                       help="seconds to collect the retained states (default: 2)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def print_table(title: str, rows: list[list]) -> None:
    """``rows[0]`` is the header; the first column left-aligned, the others right."""
    widths = [max(18, *(len(str(r[0])) + 2 for r in rows)),
              *[max(10, *(len(str(r[i])) + 2 for r in rows)) for i in range(1, len(rows[0]))]]
    print(f"\n{title}")
    for cells in rows:
        print(f"{cells[0]!s:<{widths[0]}}" + "".join(f"{c!s:>{w}}" for c, w in zip(cells[1:], widths[1:],
                                                                                 strict=True)))


def fleet_body(args) -> int:
    """One row per doorway publishing to ``--mqtt`` and a total: today's counts and compliance."""
    from ..mqtt import read_password
    from ..mqtt.fleet import read_fleet

    host, _, port = args.mqtt.rpartition(":") if args.mqtt.rpartition(":")[2].isdigit() else (args.mqtt, "", "")
    given = {"mqtt.host": host, "mqtt.port": port or None, "mqtt.tls": args.mqtt_tls,
             "mqtt.ca_file": args.mqtt_ca_file, "mqtt.username": args.mqtt_username,
             "mqtt.password_file": args.mqtt_password_file, "mqtt.topic": args.mqtt_topic}
    config = configs.with_overrides(configs.RunConfig(), {k: v for k, v in given.items() if v is not None}).mqtt
    password = read_password(Path(config.password_file)) if config.password_file else None
    fleet = read_fleet(config, password, args.wait)
    if not fleet:
        print(f"no doorway has published to {config.host}:{config.port} under {config.topic}/")
        return 0
    labels = list(WORDS)
    day = datetime.now().date().isoformat()
    # A retained state is the last one a doorway sent: one that went offline on an earlier day holds that
    # day's counts, which are not today's. (A state without a date comes from an edge-run before the field.)
    groups = {device: kinds["state"].get("today", {}) if kinds["state"].get("date") == day else {}
              for device, kinds in fleet.items()}
    rows = [[*cells, status_of(fleet[device], day), fleet[device]["state"].get("last_event") or "-"]
            for device, cells in zip(groups, table_rows(labels, groups, args.violation), strict=True)]
    total = {label: sum(counts.get(label, 0) for counts in groups.values()) for label in labels}
    if sum(total.values()):
        rows.append(["total", *next(table_rows(labels, {"total": total}, args.violation))[1:], "", ""])
    header = ["doorway", *headings(labels), "status", "last event"]
    print_table(f"today, {len(fleet)} doorway(s) at {config.host}:{config.port}", [header, *rows])
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            csv.writer(f).writerows([[h.replace(" %", "_percent").replace(" ", "_") for h in header], *rows])
        print(f"\nwrote {args.csv}")
    return 0


def status_of(doorway: dict, day: str) -> str:
    """online / offline, and for a doorway whose last counts are of an earlier day, which day."""
    availability = doorway.get("availability", "?")
    counted_on = doorway["state"].get("date")
    if counted_on == day:
        return availability
    return f"{availability} since {counted_on}" if counted_on else f"{availability}, counts undated"


def headings(labels: list[str], percent: str = "compliance %") -> list[str]:
    """The columns after the first: the people by label, their total and compliance, then those recorded as
    no people of the door (passers-by, people leaving)."""
    return [*(label for label in labels if label not in NOT_PEOPLE), "total", percent, *NOT_PEOPLE]


def table_rows(labels, groups, violation: list[str]):
    """Compliance is over the people judged: the not judged are counted, but neither way; passers-by and
    people leaving are no people of the door, in neither the total nor compliance."""
    for key, counts in groups.items():
        total = people(counts)
        judged = total - counts.get(NOT_JUDGED, 0)
        compliant = judged - sum(counts.get(label, 0) for label in violation)
        yield [key, *[counts.get(label, 0) for label in labels if label not in NOT_PEOPLE], total,
               f"{100.0 * compliant / judged:.1f}" if judged else "n/a",
               *[counts.get(label, 0) for label in NOT_PEOPLE]]


def known_labels(violation: list[str], seen) -> None:
    """Refuse a --violation label that no model has and no count carries: it would count nobody as one,
    and report everyone compliant."""
    from ..errors import ConfigError

    known = [label for label in dict.fromkeys([*WORDS, *seen]) if label not in NOT_PEOPLE]
    unknown = [label for label in violation if label not in known]
    if unknown:
        raise ConfigError(f"--violation {', '.join(unknown)} is no label of these counts — choose from "
                          f"{', '.join(label for label in known if label != NOT_JUDGED)}")


def body(args) -> int:
    from ..errors import ConfigError

    if args.mqtt:
        known_labels(args.violation, [])
        return fleet_body(args)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since).timestamp()
        except ValueError:
            raise ConfigError(f"--since {args.since!r} is not a date — write e.g. 2026-11-01 or "
                              "'2026-11-01 08:00'") from None
    rows = read_counts(args.db, since)
    known_labels(args.violation, {label for _, label in rows})
    if not rows:
        print(f"no counts in {args.db}" + (f" since {args.since}" if args.since else ""))
        return 0
    periods = ("day", "hour") if args.by == "both" else (args.by,)
    tables = {period: group(rows, period, args.utc) for period in periods}
    for period, (labels, groups) in tables.items():
        print_table(f"counts per {period}" + (" (UTC)" if args.utc else ""),
                    [[period, *headings(labels)], *table_rows(labels, groups, args.violation)])
    if args.csv:
        period = periods[0]  # day, unless --by hour
        labels, groups = tables[period]
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([period, *headings(labels, "compliance_percent")])
            writer.writerows(table_rows(labels, groups, args.violation))
        print(f"\nwrote {args.csv}")
    unsynced = read_unsynced(args.db, since)
    if unsynced:
        print(f"\nnote: {unsynced} of these count(s) were stamped while the device's clock was not synchronised "
              "and have not been put right (edge-run does once it is, unless the device restarted before): their "
              "day and hour may be wrong")
    return 0


def main(argv=None) -> int:
    from ..console import run_main

    return run_main("edge-report", body, parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
