"""What every console script shares (edge-run and the others, ``python -m train`` / ``export``): an argparse that
words its errors as one line, argument types, and ``run_main``, which turns a deliberate error into one line and
a bug into its traceback."""

import argparse
import logging
import math
import os
import sys
import traceback
import warnings

from .errors import INTERRUPTED, EdgeError, os_reason


class Parser(argparse.ArgumentParser):
    """argparse, but a wrong flag is one line (with where to look) rather than the usage text."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def whole_number(minimum: int, maximum: int | None = None):
    """An argparse type: a whole number in [minimum, maximum]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            limit = f"of at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number {limit}")
        return value

    return parse


def comma_list(text: str) -> list[str]:
    """An argparse type: one or more names, comma-separated."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give one or more names, comma-separated")
    return names


def key_number(text: str) -> tuple[str, float | int]:
    """An argparse type: KEY=NUMBER, a config key given a whole number or a decimal one."""
    key, _, value = text.partition("=")
    try:
        return key.strip(), float(value) if "." in value else int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=NUMBER, e.g. face_score=0.7") from None


def number(minimum: float, above: bool = False, maximum: float = math.inf):
    """An argparse type: a finite number of at least ``minimum`` (above it, if ``above``), at most ``maximum``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < minimum or (above and value == minimum) or value > maximum:
            within = f" and at most {maximum:g}" if math.isfinite(maximum) else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not a number {'above' if above else 'of at least'} "
                                             f"{minimum}{within}")
        return value

    return parse


# sysexits.h's EX_SOFTWARE: an error of the program itself, told apart from a user's (1) and argparse's (2).
BUG = 70


def run_main(prog: str, body, args, error_code: int = 1) -> int:
    """Run ``body(args)``: a deliberate error (ours, or the system's OSError) becomes one line on stderr and
    ``error_code``; Ctrl-C one line and 130; anything else is a bug, shown with its traceback, exit 70."""
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format=f"{prog}: %(levelname)s %(message)s")
    if not args.debug:
        _quiet_opencv()
    shown = warnings.showwarning
    warnings.showwarning = _logged(shown)
    try:
        return body(args) or 0
    except (EdgeError, OSError) as exc:
        if args.debug:
            raise
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return error_code
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception:
        traceback.print_exc()
        print(f"{prog}: this is a bug in {prog}, not something you did wrong — please report it with the "
              "traceback above", file=sys.stderr)
        return BUG
    finally:
        warnings.showwarning = shown


def _quiet_opencv() -> None:
    """OpenCV's and FFmpeg's own warnings (``[ WARN:0@0.2] global cap_v4l.cpp …``, ``[tcp @ 0x…] Connection
    refused``) would come before our one line saying the same thing; ``--debug`` keeps them. Their levels are
    read when a capture backend starts, so setting them here, before any camera opens, is in time."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    if "cv2" in sys.modules:
        cv2 = sys.modules["cv2"]
        # OpenCV's own level 2 (LOG_LEVEL_ERROR): cv2.utils.logging from 4.12, cv2.setLogLevel before (the 4.11
        # that pip takes beside Raspberry Pi OS 12's numpy 1.24)
        logging_api = getattr(cv2.utils, "logging", None)
        (logging_api.setLogLevel if logging_api is not None else cv2.setLogLevel)(2)


def _logged(shown):
    """``warnings.showwarning`` that logs our typed warnings (a fallback taken) as one line, like the rest of
    the program's output, and hands other libraries' warnings to ``shown`` as before."""
    from .errors import MaskwatchWarning

    def show(message, category, *where, **kwargs):
        if issubclass(category, MaskwatchWarning):
            logging.getLogger("maskwatch").warning("%s", message)
        elif category.__name__ == "PinFactoryFallback":
            # gpiozero tries each pin library in turn and warns of every one missing (four on a PC): the pins
            # either work with the one it settles on or fail with our one line, so only --debug shows them
            logging.getLogger("maskwatch").debug("gpiozero: %s", message)
        else:
            shown(message, category, *where, **kwargs)

    return show


def one_line(exc: BaseException) -> str:
    """An error for a person: ours as written; the system's without errno numbers or type names."""
    if isinstance(exc, EdgeError):
        return " ".join(str(exc).split())
    if isinstance(exc, OSError):
        return os_reason(exc)
    return " ".join(str(exc).split()) or "failed"
