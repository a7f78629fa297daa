"""``edge-run``: watch a doorway, count masked and unmasked people once each.

Options come from the built-in defaults, then ``--config FILE.toml``, then the flags given;
``--print-config`` shows the result as a config file.
"""

import argparse
import logging
import signal
import sys
from pathlib import Path

from .. import config as configs
from ..console import Parser, number, whole_number

log = logging.getLogger("edge-run")


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="edge-run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=None, help="TOML config file; flags given override it")
    for key, flag, f in configs.options():
        kinds = configs.allowed_types(f)
        default = "" if f.default is None else f" (default: {f.default})"
        if bool in kinds:
            p.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, default=None,
                           help=f.metadata["help"] + default)
            continue
        # The text goes to the config's own checks, which word every error the same as a file's.
        metavar = "|".join(f.metadata["choices"]) if f.metadata["choices"] else key.split(".")[1].upper()
        p.add_argument(flag, dest=key, default=None, metavar=metavar, help=f.metadata["help"] + default)
    p.add_argument("--max-frames", type=whole_number(1), default=None, help="stop after this many frames")
    p.add_argument("--duration", type=number(0, above=True), default=None, help="stop after this many seconds")
    p.add_argument("--exact", action="store_const", const="exact", dest="speed.preset",
                   help="detect on every frame, whole frames, for any detector (= --preset exact)")
    p.add_argument("--print-config", action="store_true", help="print the resulting config as TOML and exit")
    p.add_argument("--check", action="store_true",
                   help="load the model, open the camera, read one frame; exit 0 if all work, else 1")
    p.add_argument("--snapshot", type=Path, default=None, metavar="FILE.jpg",
                   help="with --check: write that frame, annotated as the live view shows it, to this file, "
                        "and say whether the faces are big enough")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def resolve(args) -> configs.RunConfig:
    base = configs.load(args.config) if args.config else configs.RunConfig()
    given = {key: getattr(args, key) for key, _, _ in configs.options() if getattr(args, key) is not None}
    return configs.with_overrides(base, given)


def body(args, pin_factory=None) -> int:
    from ..errors import ConfigError, CountsError
    from ..runtime import check, describe, open_runtime

    config = resolve(args)
    if args.print_config:
        print(configs.to_toml(config), end="")
        return 0
    if args.snapshot is not None and not args.check:
        raise ConfigError("--snapshot goes with --check (edge-run --check --snapshot FILE.jpg)")
    if args.check:
        for line in check(config, args.snapshot):
            print(f"edge-run: {line}")
        return 0
    runtime = open_runtime(config, pin_factory)
    runner = runtime.runner
    previous = signal.signal(signal.SIGTERM, lambda *_: runner.stop("SIGTERM"))
    log.info("running: %s", describe(runtime))
    try:
        runner.run(args.max_frames, args.duration)
    finally:
        signal.signal(signal.SIGTERM, previous)
        print(runner.status())
    if runtime.store.lost:
        raise CountsError(f"{runtime.store.lost} count(s) of this run could not be written to {config.output.db} "
                          "and are lost — see the errors above")
    return 0


def main(argv=None, pin_factory=None) -> int:
    from ..console import run_main

    args = parser().parse_args(argv)
    return run_main("edge-run", lambda a: body(a, pin_factory), args)


if __name__ == "__main__":
    sys.exit(main())
