"""Who may import whom (docs/architecture.md), read from the source: run-time imports only (what a
``TYPE_CHECKING`` block names is for the type checker)."""

import ast
from pathlib import Path

from conftest import REPO

PACKAGES = ("edge", "train", "export")
# edge's layers, lowest first: a module may import its own layer and those below, never one above.
LAYERS = [
    ("core", ("edge.errors", "edge.registry", "edge.schema", "edge.policy", "edge.decision", "edge.adapters",
              "edge.images", "edge.crops", "edge.motion", "edge.credentials", "edge.paths", "edge.manifest",
              "edge.selftest", "edge.scoring", "edge.door", "edge.tracker", "edge.notify", "edge.clock", "edge.counts",
              "edge.snapshots")),
    ("backends", ("edge.detectors", "edge.cameras", "edge.classifiers", "edge.alerts", "edge.config")),
    ("runtime", ("edge.pipeline", "edge.runner", "edge.view", "edge.mqtt", "edge.prometheus", "edge.runtime",
                 "edge.benchmark", "edge.console")),
    ("commands", ("edge.cli",)),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")}


def runtime_imports(path: Path, name: str, known: dict) -> set[str]:
    """The project modules ``path`` imports when it runs (a function's own imports included)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # drop what only the type checker sees
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            found |= set(subs) if subs else {base}
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: runtime_imports(path, name, known) for name, path in known.items()}


def layer_of(name: str) -> int | None:
    return next((i for i, (_, members) in enumerate(LAYERS)
                 if any(name == m or name.startswith(m + ".") for m in members)), None)


def test_every_edge_module_has_a_layer():
    assert [name for name in modules() if name.startswith("edge.") and layer_of(name) is None] == []


def test_nothing_imports_a_command_and_no_layer_imports_one_above_it():
    wrong = [(a, b) for a, targets in graph().items() for b in targets
             if a.startswith("edge.") and b.startswith("edge.") and layer_of(b) > layer_of(a)]
    assert wrong == []
    commands = [(a, b) for a, targets in graph().items() for b in targets
                if b.startswith("edge.cli") and not a.startswith("edge.cli")]
    assert commands == []


def test_the_device_never_imports_the_workstation_and_training_never_imports_export():
    imports = graph()
    assert [(a, b) for a, t in imports.items() for b in t if a.startswith("edge") and not b.startswith("edge")] == []
    assert [(a, b) for a, t in imports.items() for b in t if a.startswith("train") and b.startswith("export")] == []


def test_the_import_graph_has_no_cycle():
    imports, state, cycles = graph(), {}, []

    def visit(name, path):
        state[name] = "open"
        for target in sorted(imports[name]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[name] = "done"

    for name in sorted(imports):
        if name not in state:
            visit(name, [name])
    assert cycles == []
