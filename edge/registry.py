"""One registry per backend family (face detectors, cameras, classifier backends, alert backends).

Each backend is one file that registers itself by name, Frigate-style; every list of choices (flags,
config validation, edge-bench, training, the walk-through) is read from its family's registry, so a new
backend is one new file. A family's files are imported on the first question asked of it; what is heavy
(an interpreter, a GPIO library, picamera2) each file imports only when the backend is used.
"""

import importlib
import pkgutil

from .errors import ConfigError


class Registry:
    def __init__(self, family: str, package: str):
        self.family, self.package = family, package
        self._entries: dict[str, tuple[int, object]] = {}
        self._discovered = False

    def register(self, name: str, order: int = 50):
        """A decorator: ``obj`` is this family's backend ``name``. ``order`` ranks it where the order
        matters (the first camera whose form matches a source opens it); names break ties."""
        def add(obj):
            if name in self._entries and self._entries[name][1] is not obj:
                raise RuntimeError(f"two {self.family} backends are called {name!r}")
            self._entries[name] = (order, obj)
            return obj

        return add

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{self.package}.{module.name}")

    def names(self) -> tuple[str, ...]:
        self._discover()
        return tuple(name for name, _ in sorted(self._entries.items(), key=lambda item: (item[1][0], item[0])))

    def items(self) -> list[tuple[str, object]]:
        return [(name, self._entries[name][1]) for name in self.names()]

    def get(self, name: str):
        self._discover()
        if name not in self._entries:
            raise ConfigError(f"unknown {self.family} {name!r}; choose one of {', '.join(self.names())}")
        return self._entries[name][1]
