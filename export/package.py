"""``python -m export.package BUNDLE [--out FILE.tar.gz]``: one tarball of an export for the device.

The tarball holds the bundle folder with a SHA256SUMS; ``edge-run --model FILE.tar.gz`` and
``systemd/install.sh --bundle FILE.tar.gz`` take it as it is and check every file first.
"""

import sys
from pathlib import Path

from edge import manifest as manifests
from edge.console import Parser, run_main
from edge.paths import DEFAULT_MODEL


def body(args) -> None:
    out = args.out or args.bundle.with_name(args.bundle.resolve().name + ".tar.gz")
    manifests.pack(args.bundle, out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB)")


def main(argv=None) -> int:
    p = Parser(prog="python -m export.package", description=__doc__)
    p.add_argument("bundle", type=Path, nargs="?", default=DEFAULT_MODEL,
                   help="an export folder (default: the shipped model)")
    p.add_argument("--out", type=Path, default=None, help="tarball to write (default: BUNDLE.tar.gz beside it)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(argv)
    return run_main("python -m export.package", body, args)


if __name__ == "__main__":
    sys.exit(main())
