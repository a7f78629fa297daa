"""Training sources: folder-per-class sets and scene sets with face boxes (Pascal VOC).

A *folder set* holds one sub-folder of pictures per class. A *scene set* holds ``images/`` and
``annotations/`` (one VOC xml per image, same stem): every boxed face is one sample, cut later
with its box and the device's crop rule. Class names are made canonical (``with_incorrect_mask``
is ``mask_incorrect``), so sources that spell a class differently train one label.
"""

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError
from edge.images import IMAGE_SUFFIXES, is_image_file

# Other datasets' names for our labels.
ALIASES = {"with_incorrect_mask": "mask_incorrect", "mask_weared_incorrect": "mask_incorrect"}


class DatasetError(EdgeError, ValueError):
    """The dataset folder cannot be used as it is."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    relpath: str  # the stable name used in splits and reports: "<class>/<file>", "<source>/…" with several
    box: tuple[float, float, float, float] | None = None  # the face's (x, y, w, h) in a scene photo
    source: str = ""  # the source's folder name


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def is_scene_set(root: Path) -> bool:
    return (Path(root) / "annotations").is_dir() and (Path(root) / "images").is_dir()


def class_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def voc_faces(annotation: Path) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(canonical label, box x, y, w, h) of each object of a Pascal VOC file."""
    try:
        objects = ET.parse(annotation).findall("object")
    except ET.ParseError as exc:
        raise DatasetError(f"{annotation} is not a readable Pascal VOC file ({exc}) — fix or remove it") from None
    faces = []
    for n, obj in enumerate(objects):
        try:
            box = obj.find("bndbox")
            x0, y0, x1, y1 = (float(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
            name = obj.find("name").text.strip()
        except (AttributeError, TypeError, ValueError):  # a missing element, or a box that is not numbers
            raise DatasetError(f"{annotation}: object {n} needs a name and a bndbox of numeric xmin, ymin, xmax, "
                               "ymax — fix or remove the file") from None
        faces.append((canonical(name), (x0, y0, x1 - x0, y1 - y0)))
    return faces


def source_classes(root: Path) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    if is_scene_set(root):
        return sorted({label for xml in root.glob("annotations/*.xml") for label, _ in voc_faces(xml)})
    return sorted({canonical(name) for name in class_folders(root)})


def resolve_labels(roots: list[Path], labels: list[str] | None) -> list[str]:
    """The explicit class order: as given, else every source's class names, sorted."""
    roots = [Path(root) for root in roots]
    found = {root: source_classes(root) for root in roots}
    names = [root.name for root in roots]
    if len(set(names)) != len(names):
        raise DatasetError(f"two sources share a folder name ({', '.join(names)}): rename one")
    everything = sorted({label for classes in found.values() for label in classes})
    if labels is None:
        labels = everything
    missing = [name for name in labels if name not in everything]
    if missing:
        where = "; ".join(f"{root}: {', '.join(classes) or 'none'}" for root, classes in found.items())
        raise DatasetError(f"no source has the class {', '.join(missing)} (found {where})")
    if len(labels) < 2:
        raise DatasetError(f"{', '.join(map(str, roots))} needs at least two class folders (or classes of boxed "
                           f"faces), found {everything}")
    return list(labels)


def list_samples(roots: list[Path], labels: list[str], min_face: int = 12) -> list[Sample]:
    """Every file under each class folder (non-images too: ingest reports them) and every boxed face
    of at least ``min_face`` px (shorter side) of a scene set, for the labels asked for."""
    roots = [Path(root) for root in roots]
    samples = []
    for root in roots:
        prefix = f"{root.name}/" if len(roots) > 1 else ""
        if is_scene_set(root):
            samples += _scene_samples(root, labels, min_face, prefix)
            continue
        for folder in class_folders(root):
            if canonical(folder) not in labels:
                continue
            for path in sorted((root / folder).rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    samples.append(Sample(path, labels.index(canonical(folder)),
                                          prefix + path.relative_to(root).as_posix(), source=root.name))
    if not any(is_image_file(s.path) for s in samples):
        raise DatasetError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {', '.join(map(str, roots))}")
    return samples


def _scene_samples(root: Path, labels: list[str], min_face: int, prefix: str) -> list[Sample]:
    samples = []
    for xml in sorted((root / "annotations").glob("*.xml")):
        image = next((p for p in (root / "images" / f"{xml.stem}{s}" for s in IMAGE_SUFFIXES) if p.is_file()),
                     root / "images" / f"{xml.stem}.jpg")
        for n, (label, box) in enumerate(voc_faces(xml)):
            if label in labels and min(box[2:]) >= min_face:
                samples.append(Sample(image, labels.index(label), f"{prefix}images/{image.name}#{n}", box,
                                      root.name))
    return samples


def data_checksum(samples: list[Sample]) -> str:
    """sha256 over every file's name, class, box and content: names the exact data a run saw."""
    digest = hashlib.sha256()
    contents: dict[Path, bytes] = {}
    for sample in sorted(samples, key=lambda s: s.relpath):
        digest.update(f"{sample.relpath}\0{sample.label}\0{sample.box}\0".encode())
        if sample.path not in contents:
            contents[sample.path] = hashlib.sha256(sample.path.read_bytes()).digest() if sample.path.is_file() else b""
        digest.update(contents[sample.path])
    return digest.hexdigest()


def load_calibration(folder: Path, labels: list[str], size: int):
    """The out-of-source crops, taken whole as edge-eval takes them."""
    from edge.scoring import load_crops

    crops = load_crops(Path(folder), labels, size, named="--calibrate")
    print(f"calibration set {folder}: {len(crops.targets)} crops, {len(crops.skipped)} skipped")
    return crops
