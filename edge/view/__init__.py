"""The live view (``edge-run --view``): what the camera sees, in a browser, for aiming it.

Off by default, and then nothing listens.
"""

import ipaddress
import logging
from pathlib import Path

from ..credentials import read_secret
from ..errors import ConfigError

log = logging.getLogger("edge-run")

__all__ = ["open_view"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def read_token(path: Path) -> str:
    how = f"write a token into it (openssl rand -hex 16 > {path})"
    token = read_secret(path, "[view] token_file", how).strip()
    if len(token) < 8 or any(c.isspace() for c in token):
        raise ConfigError(f"[view] token_file {path} must hold one token of at least 8 characters, no spaces — {how}")
    return token


def open_view(config, info: dict, db, policy, labels: list[str], accurate_from: int | None, door):
    """The live view ``config`` ([view]) asks for, listening; None when it is off."""
    address = config.address()
    if address is None:
        return None
    host, port = address
    token = read_token(Path(config.token_file)) if config.token_file else None
    if not is_loopback(host):
        if token is None:
            raise ConfigError(f"the live view shows faces: serving it on {host} needs [view] token_file "
                              "(--view-token-file) — or serve it on 127.0.0.1 and reach it with "
                              "ssh -L 8080:localhost:8080 pi@doorway")
        log.warning("the live view on %s:%d can be reached from the network; it shows faces, and only the "
                    "token guards it", host, port)
    from .server import LiveView

    view = LiveView((host, port), config.fps, token, info, db, policy, labels, accurate_from, door)
    log.info("live view at %s (it shows faces live)", view.url)
    return view
