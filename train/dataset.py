"""Folder-per-class datasets: finding the files, fixing the class order, reading them safely."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from edge.images import IMAGE_SUFFIXES, is_image_file


class DatasetError(ValueError):
    """The dataset folder cannot be used as it is."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    relpath: str  # "<class>/<file>", the stable name used in splits and reports


def class_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def resolve_labels(root: Path, labels: list[str] | None) -> list[str]:
    """The explicit class order: as given, else the folder names sorted."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    found = class_folders(root)
    if labels is None:
        labels = found
    missing = [name for name in labels if name not in found]
    if missing:
        raise DatasetError(f"no class folder for {', '.join(missing)} in {root} (found: {found})")
    if len(labels) < 2:
        raise DatasetError(f"{root} needs at least two class folders, found {found}")
    return list(labels)


def list_samples(root: Path, labels: list[str]) -> list[Sample]:
    """Every file under each class folder (non-images too: ingest reports them)."""
    samples = []
    for index, name in enumerate(labels):
        for path in sorted((Path(root) / name).rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                samples.append(Sample(path, index, path.relative_to(root).as_posix()))
    if not any(is_image_file(s.path) for s in samples):
        raise DatasetError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return samples


def data_checksum(samples: list[Sample]) -> str:
    """sha256 over every file's name, class and content: names the exact data a run saw."""
    digest = hashlib.sha256()
    for sample in sorted(samples, key=lambda s: s.relpath):
        digest.update(f"{sample.relpath}\0{sample.label}\0".encode())
        digest.update(hashlib.sha256(sample.path.read_bytes()).digest())
    return digest.hexdigest()
