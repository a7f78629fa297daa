"""Console scripts. Each prints deliberate errors as one line and exits non-zero; --debug shows the traceback."""

import logging
import sys

from ..errors import EdgeError


def run_main(prog: str, body, args, error_code: int = 1) -> int:
    """Run ``body(args)``; a deliberate error becomes one line on stderr and ``error_code``."""
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format=f"{prog}: %(levelname)s %(message)s")
    try:
        return body(args) or 0
    except (EdgeError, OSError, ValueError) as exc:
        if args.debug:
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return error_code
