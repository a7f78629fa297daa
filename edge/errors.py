"""Every error the project raises on purpose, and the warnings it gives: the device runtime's, training's and
export's all derive from ``EdgeError``.

Each one also inherits the builtin a caller would naturally catch, as gpiozero's do, and
its message is written for a person: what went wrong and what to do about it.
"""

INTERRUPTED = 130  # the exit code of a run ended by Ctrl-C, as the shell gives it (edge.console, edge.cli)



def os_reason(exc: OSError) -> str:
    """What the system said, for a person: the file and the reason, without errno's number."""
    import urllib.error

    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        reason = exc.reason
        return os_reason(reason) if isinstance(reason, OSError) else str(reason)
    text = (exc.strerror or str(exc) or "failed").lower()
    return f"{exc.filename}: {text}" if exc.filename else text


class EdgeError(Exception):
    """Base of every deliberate error; the CLIs print it as one line."""


class ConfigError(EdgeError, ValueError):
    """A config file or flag is wrong: unknown key, wrong type, bad value."""


class ImageError(EdgeError, ValueError):
    """An image could not be decoded, is truncated or too small."""


class ModelFileError(EdgeError, FileNotFoundError):
    """A model, detector or manifest file is missing."""


class ModelMismatchError(EdgeError, ValueError):
    """A model does not match its manifest (checksum, labels, input)."""


class BackendUnavailableError(EdgeError, ImportError):
    """The interpreter a backend needs is not installed."""


class CameraError(EdgeError, OSError):
    """A camera or stream cannot be opened or stopped delivering frames."""


class CountsError(EdgeError, OSError):
    """The counts database cannot be used, or counts could not be written to it."""


class MaskwatchWarning(UserWarning):
    """Base of the warnings the project gives on purpose: something works, but not as well as it could."""


class FallbackWarning(MaskwatchWarning):
    """A lesser component was used because the better one is missing, as gpiozero's PinFactoryFallback."""


class DetectorFallback(FallbackWarning):
    """``--detector auto`` found no file for its first choice and took the next one."""


class BackendFallback(FallbackWarning):
    """A classifier backend runs without what makes it fast (LiteRT missing: tflite_runtime, no XNNPACK int8)."""


class UnprovenModelWarning(MaskwatchWarning):
    """A model bundle has no self-test, so its labels cannot be proven."""
