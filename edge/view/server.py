"""The live view: an HTTP server inside edge-run (the standard library's, as picamera2's MJPEG
example uses), serving the page, an annotated MJPEG stream and the status as JSON.

The frame loop only hands over references (``frame``); the server's threads do the drawing and
JPEG encoding, and only while someone watches, at most ``fps`` times a second whoever watches. A
viewer that stops reading blocks its own thread, never the loop, and is dropped after ``TIMEOUT``.
"""

import collections
import hmac
import json
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2

from ..counts import midnight, read_counts, read_unsynced
from ..errors import ConfigError, os_reason
from ..snapshots import annotate
from .status import aim, brightness, door_status, picture, sharpness, today

log = logging.getLogger("edge-run")

BOUNDARY = "frame"
TIMEOUT = 10.0  # s: a viewer that takes no data for this long is dropped
JPEG_QUALITY = 75
RECENT_FACES = 200  # face sizes the aiming aid takes its median of
RECENT_SHARPNESS = 30  # faces whose sharpness the picture's verdict takes the median of
RECENT_PEOPLE = 20  # tracks whose largest face the door's proposal takes the median of
MIN_TRACK = 3  # frames a track must have been seen on to be somebody: a flicker is nobody
COUNTS_EVERY = 1.0  # s between reads of the counts database
SMOOTHING = 0.1  # weight of the newest frame in the per-stage times


class LiveView:
    """``info``: what the page names (source, detector, model, backend, policy); ``db``: the counts file;
    ``door``: the door (edge.door.Door) drawn on the frames and proposed a face size. ``links``: name -> a
    callable giving that link's state (the MQTT publisher's ``link``), set by the runtime once the link is open."""

    def __init__(self, address: tuple[str, int], fps: float, token: str | None, info: dict, db: Path,
                 policy, labels: list[str], accurate_from: int | None, door):
        self.interval, self.token, self.info, self.db, self.door = 1.0 / fps, token, info, Path(db), door
        self.policy, self.labels, self.accurate_from = policy, labels, accurate_from
        self._lock = threading.Lock()
        self._latest = None  # (frame index, image, result) of the newest frame
        self._jpeg: tuple[int, bytes] | None = None  # (frame index, encoded frame)
        self._encoded_at = float("-inf")
        self._encode = threading.Lock()
        self._sizes: collections.deque[int] = collections.deque(maxlen=RECENT_FACES)
        self._tracks: collections.OrderedDict[int, list[int]] = collections.OrderedDict()  # track: [frames, largest]
        self._loop = {"frames": 0, "fps": 0.0, "stages_ms": {}, "people_in_view": 0}
        self._counts: tuple[float, dict] | None = None
        self._frame_at: float | None = None  # monotonic time of the newest frame
        self._judging = threading.Lock()  # the page's requests come on several threads
        self._judged = -1  # the frame index the picture's verdict last looked at
        self._level: float | None = None
        self._sharp: collections.deque[float] = collections.deque(maxlen=RECENT_SHARPNESS)
        self.links: dict = {}
        self.wall = None  # the counts' SystemClock, set by the runtime: whether today's times can be trusted
        self.watching = 0
        self.closed = threading.Event()
        try:
            kind = ThreadingHTTPServer
            if ":" in address[0]:
                kind = type("ThreadingHTTPServer6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
            self.server = kind(address, _handler(self))
        except OSError as exc:
            host, port = address
            raise ConfigError(f"cannot serve the live view on {host}:{port} ({os_reason(exc)}) — give --view "
                              "a free port from 1024 up (the service may not bind lower ones), or an address "
                              "of this machine") from None
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="live-view", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def frame(self, index: int, image, result, fps: float, stages_ms: dict[str, float]) -> None:
        """The frame loop's hand-over of frame ``index`` (as the detections file numbers it): references
        and a few numbers, under a lock held for no work."""
        sizes = [min(face.box[2:]) for face in result.faces]
        with self._lock:
            self._latest = (index, image, result)
            self._frame_at = time.monotonic()
            self._sizes.extend(sizes)
            for face, size in zip(result.faces, sizes, strict=True):
                seen = self._tracks.setdefault(face.track, [0, 0])
                seen[0], seen[1] = seen[0] + 1, max(seen[1], size)
                self._tracks.move_to_end(face.track)
            while len(self._tracks) > RECENT_PEOPLE:
                self._tracks.popitem(last=False)
            old = self._loop["stages_ms"]
            # A stage the fast path left out of this frame took no time in it: the figures are per frame.
            smoothed = {stage: stages_ms.get(stage, 0.0) if stage not in old
                        else old[stage] + SMOOTHING * (stages_ms.get(stage, 0.0) - old[stage])
                        for stage in {**old, **stages_ms}}
            self._loop = {"frames": self._loop["frames"] + 1, "fps": fps, "stages_ms": smoothed,
                          "people_in_view": len({face.track for face in result.faces})}

    def jpeg(self) -> tuple[int, bytes] | None:
        """The newest annotated frame as JPEG: encoded at most once per interval, for every viewer."""
        with self._encode:
            with self._lock:
                latest = self._latest
            if latest is None:
                return None
            if self._jpeg is None or (self._jpeg[0] != latest[0]
                                      and time.monotonic() - self._encoded_at >= self.interval):
                index, image, result = latest
                ok, data = cv2.imencode(".jpg", annotate(image, result, self.policy, self.door),
                                        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if ok:
                    self._jpeg, self._encoded_at = (index, data.tobytes()), time.monotonic()
            return self._jpeg

    def _picture(self, latest) -> dict:
        """Too dark, too blurred: judged on the newest frame when the page asks, never in the frame loop."""
        with self._judging:
            if latest is not None and latest[0] != self._judged:
                index, image, result = latest
                self._judged, self._level = index, brightness(image)
                self._sharp.extend(v for v in (sharpness(image, face.box) for face in result.faces) if v is not None)
            return picture(self._level, self._sharp)

    def status(self) -> dict:
        with self._lock:
            loop, sizes, latest, frame_at = dict(self._loop), list(self._sizes), self._latest, self._frame_at
            largest = [size for frames, size in self._tracks.values() if frames >= MIN_TRACK]
        now = time.time()
        if self._counts is None or now - self._counts[0] >= COUNTS_EVERY:
            try:
                rows = read_counts(self.db, midnight(now)) if self.db.is_file() else []
                unsynced = read_unsynced(self.db, midnight(now)) if self.db.is_file() else 0
            except ConfigError as exc:
                log.warning("live view: %s", exc)
                rows, unsynced = [], 0
            self._counts = (now, {**today(rows, self.policy, self.labels), "unsynced": unsynced})
        return {**self.info, **loop, "stages_ms": {k: round(v, 2) for k, v in loop["stages_ms"].items()},
                "fps": round(loop["fps"], 1), "today": self._counts[1],
                "aim": aim(sizes, self.accurate_from), "picture": self._picture(latest),
                "door": door_status(self.door, largest, self.accurate_from),
                "frame_age_s": None if frame_at is None else round(time.monotonic() - frame_at, 1),
                "links": {name: link() for name, link in self.links.items()},
                "clock_synchronised": None if self.wall is None else self.wall.trusted(),
                "view": {"fps": round(1.0 / self.interval, 2), "watching": self.watching},
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    def watched(self, change: int) -> None:
        with self._lock:
            self.watching += change

    def allowed(self, query: dict, authorization: str | None) -> bool:
        if self.token is None:
            return True
        given = (query.get("token") or [""])[0]
        if authorization and authorization.startswith("Bearer "):
            given = authorization[len("Bearer "):].strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


def page() -> bytes:
    return resources.files(__package__).joinpath("page.html").read_bytes()


def _handler(view: LiveView):
    class Handler(BaseHTTPRequestHandler):
        timeout = TIMEOUT  # a socket timeout: a viewer that stops reading is dropped, not waited on
        server_version = "edge-run"

        def do_GET(self):  # noqa: N802 - the name http.server calls
            url = urlsplit(self.path)
            if not view.allowed(parse_qs(url.query), self.headers.get("Authorization")):
                self.send_response(HTTPStatus.UNAUTHORIZED)
                self.send_header("WWW-Authenticate", "Bearer")
                self._body(b"a token is needed: open the page as /?token=... (see [view] token_file)\n",
                           "text/plain; charset=utf-8", sent=True)
                return
            if url.path == "/":
                self._body(page(), "text/html; charset=utf-8")
            elif url.path == "/status.json":
                self._body(json.dumps(view.status()).encode(), "application/json")
            elif url.path == "/stream.mjpg":
                self._stream()
            else:
                self.send_error(HTTPStatus.NOT_FOUND, "the live view serves /, /stream.mjpg and /status.json")

        def _body(self, data: bytes, kind: str, sent: bool = False):
            if not sent:
                self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _stream(self):
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            view.watched(+1)
            sent = None
            try:
                while not view.closed.is_set():
                    started = time.monotonic()
                    jpeg = view.jpeg()
                    if jpeg is not None and jpeg[0] != sent:
                        sent = jpeg[0]
                        self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                         f"Content-Length: {len(jpeg[1])}\r\nX-Frame-Index: {sent}\r\n\r\n"
                                         .encode() + jpeg[1] + b"\r\n")
                        self.wfile.flush()
                    view.closed.wait(max(0.0, view.interval - (time.monotonic() - started)))
            except OSError:  # the viewer went away or stopped reading
                pass
            finally:
                view.watched(-1)

        def log_message(self, format, *args):  # noqa: A002 - http.server's signature
            log.debug("live view: %s %s", self.address_string(), format % args)

    return Handler
