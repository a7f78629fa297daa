"""Secrets the config names by file, never by value: the MQTT password, the live view's token."""

import logging
import stat
from pathlib import Path

from .errors import ConfigError, os_reason

log = logging.getLogger("edge-run")


def read_secret(path: Path, key: str, how: str) -> str:
    """The text of the file ``key`` (e.g. "[mqtt] password_file") names, without its line end; ``how``
    says how to write one. A file other users can read is a warning: the service should be its only reader."""
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"{key} {path} not found — {how}, and chmod 600 {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else "not text"
        raise ConfigError(f"cannot read {key} {path} ({reason}) — give a readable text file") from None
    if not secret:
        raise ConfigError(f"{key} {path} is empty — {how}")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s %s can be read by other users: chmod 600 %s", key, path, path)
    return secret
