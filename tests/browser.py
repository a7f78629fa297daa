"""A real headless Chromium driven over its DevTools pipe (``--remote-debugging-pipe``: JSON messages, each
ended by a NUL, on the child's fds 3 and 4), for what ``--dump-dom`` cannot show: a page as it is seconds
after it loaded (a multipart stream ends its load at the first frame)."""

import json
import os
import shutil
import subprocess

import pytest

READ, WRITE = 3, 4  # the fds Chromium reads commands from and writes answers to


def chromium_path() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: make system-deps installs it")
        pytest.skip("chromium not installed (apt install chromium)")
    return chromium


class Browser:
    def __init__(self, profile, url: str):
        commands, self._commands = os.pipe()
        self._answers, answers = os.pipe()

        def onto_3_and_4():  # by way of fds no pipe can hold, so neither end lands on the other's number
            os.dup2(commands, 100)
            os.dup2(answers, 101)
            os.dup2(100, READ)
            os.dup2(101, WRITE)

        self.process = subprocess.Popen(
            [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "--window-size=1280,900", url],
            pass_fds=(READ, WRITE), preexec_fn=onto_3_and_4, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands)
        os.close(answers)
        self._id, self._buffer = 0, b""
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._answers, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"chromium ended (exit {self.process.wait()}) before answering {method}")
                self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(line)
            if answer.get("id") == self._id:  # events in between are not asked for
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", session=self.session, expression=expression, returnByValue=True)
        return result["result"].get("value")

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self._commands)
        os.close(self._answers)
