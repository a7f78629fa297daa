"""A finished training run folder, read back: its contract, config, split and face crops."""

import csv
import json
from pathlib import Path

import numpy as np

from edge.errors import EdgeError

REQUIRED = ("model.keras", "labels.json", "config.json", "split.csv")


class RunError(EdgeError, ValueError):
    """A training run cannot go ahead as asked, or a finished run folder cannot be read back."""


def add_run_data_options(parser) -> None:
    """Where a run's pictures, detector files and face-crop cache are, when they moved since training."""
    parser.add_argument("--data", type=Path, nargs="+", default=None,
                        help="the training sets, if they moved (matched to the run's by folder name)")
    parser.add_argument("--detector-dir", default=None, help="detector files, if they moved")
    parser.add_argument("--cache", default=".cache/faces", help="face-crop cache ('' for none)")


def read_run(run: Path) -> tuple[dict, dict, list[dict]]:
    if not run.is_dir():
        raise RunError(f"run folder {run} does not exist — train first (make train)")
    missing = [name for name in REQUIRED if not (run / name).is_file()]
    if missing:
        raise RunError(f"run folder {run} is incomplete: {', '.join(missing)} missing — "
                       "was the training run interrupted?")
    with open(run / "split.csv") as f:
        rows = list(csv.DictReader(f))
    return json.loads((run / "labels.json").read_text()), json.loads((run / "config.json").read_text()), rows


def run_crops(contract, config, rows, data: Path | None, detector_dir: str | None, cache: str | None,
              splits=("train", "test")) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Face crops and labels of the run's files per split, prepared exactly as in training."""
    from train.faces import PrepConfig, prepare

    given = config["args"]["data"]
    roots = [Path(root) for root in (given if isinstance(given, list) else [given])]
    if data:
        moved = {Path(root).name: Path(root) for root in data}
        roots = [moved.get(root.name, root) for root in roots]
    by_name = {root.name: root for root in roots}
    # split.csv already names each detector view as a face with its own box: cut the rows, add none
    prep = PrepConfig(**{**config["prep"], "detector_views": False,
                         **({"detector_dir": detector_dir} if detector_dir else {})})
    labels = contract["labels"]
    crops = {}
    for split in splits:
        samples = [_sample(r, by_name, roots, labels) for r in rows if r["split"] == split]
        missing = [s.relpath for s in samples if not s.path.is_file()]
        if missing:
            raise RunError(f"{len(missing)} {split} images of the run are not under {', '.join(map(str, roots))} "
                           f"(first: {missing[0]}) — pass --data with the training sets")
        prepared = prepare(samples, prep, Path(cache) if cache else None, progress=False)
        usable = [r for r in prepared.records if "index" in r]
        crops[split] = (prepared.crops[[r["index"] for r in usable]],
                        np.array([r["label"] for r in usable], dtype=np.int64))
    return crops


def _sample(row: dict, by_name: dict[str, Path], roots: list[Path], labels: list[str]):
    """The training sample a split.csv row names (a run of one source has no source prefix in its names)."""
    from train.dataset import Sample

    source = row.get("source") or roots[0].name
    root = by_name.get(source, roots[0])
    inside = row["file"].split("#")[0]
    if len(roots) > 1:
        inside = inside.split("/", 1)[1]
    box = tuple(float(v) for v in row["box"].split()) if row.get("box") else None
    return Sample(root / inside, labels.index(row["class"]), row["file"], box, source)
