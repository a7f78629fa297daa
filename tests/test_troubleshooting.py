"""docs/troubleshooting.md lists every error message the code can raise."""

import ast

from conftest import REPO

ERRORS = {"ConfigError", "ImageError", "ModelFileError", "ModelMismatchError", "BackendUnavailableError",
          "CameraError", "CountsError", "ExportError", "SealError", "Invalid", "error"}
PLACEHOLDER = "\x00"


def _text(node) -> str | None:
    """A message's text with each {…} as PLACEHOLDER; None when the node is no string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return None if left is None or right is None else left + right
    return None


def messages():
    """(where, text) of every error raised with a written message, and the DB's reasons (counts.py)."""
    for folder in ("edge", "export"):
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ERRORS and node.args:
                    text = _text(node.args[0])
                elif path.name == "counts.py" and isinstance(node, ast.Return):
                    text = _text(node.value) if node.value is not None else None
                else:
                    continue
                if text:
                    yield f"{path.relative_to(REPO)}:{node.lineno}", text


def words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def test_every_error_message_is_in_the_troubleshooting_guide():
    guide = words((REPO / "docs" / "troubleshooting.md").read_text())
    found = list(messages())
    assert len(found) > 60  # the walk really found the messages
    missing = []
    for where, text in found:
        fragment = max((words(part).strip(" —:;,.()'") for part in text.split(PLACEHOLDER)), key=len)
        if len(fragment) >= 12 and fragment not in guide:
            missing.append(f"{where}: {fragment}")
    assert not missing, "\n".join(missing)

