"""The console scripts (edge-run, edge-eval, edge-report, edge-models, edge-bench): each parses its flags,
calls the library and prints; what they share lives in ``edge.console``.

The installed scripts enter here, not at each module's ``main``: importing a script's module imports OpenCV,
NumPy and pydantic (a second or more on a Pi), and Ctrl-C in that time would otherwise print the import's
traceback instead of the one line every other Ctrl-C gets. So this module imports nothing heavy itself.
"""

import importlib
import sys

from ..errors import INTERRUPTED  # no imports of its own


def _entry(prog: str, module: str):
    def main() -> int:
        try:
            target = importlib.import_module(f"{__name__}.{module}").main
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return INTERRUPTED
        return target()

    main.__doc__ = f"``{prog}``: :func:`edge.cli.{module}.main`, entered so that Ctrl-C while it loads is one line."
    return main


edge_run = _entry("edge-run", "run")
edge_eval = _entry("edge-eval", "eval")
edge_report = _entry("edge-report", "report")
edge_models = _entry("edge-models", "models")
edge_bench = _entry("edge-bench", "bench")
