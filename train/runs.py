"""A finished training run folder, read back: its contract, config, split and face crops."""

import csv
import json
from pathlib import Path

import numpy as np

REQUIRED = ("model.keras", "labels.json", "config.json", "split.csv")


class RunError(ValueError):
    """A training run cannot go ahead as asked, or a finished run folder cannot be read back."""


def add_run_data_options(parser) -> None:
    """Where a run's pictures, detector files and face-crop cache are, when they moved since training."""
    parser.add_argument("--data", type=Path, default=None, help="the training set, if it moved")
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
    from train.dataset import Sample
    from train.faces import PrepConfig, prepare

    data = Path(data or config["args"]["data"])
    prep = PrepConfig(**{**config["prep"], **({"detector_dir": detector_dir} if detector_dir else {})})
    labels = contract["labels"]
    crops = {}
    for split in splits:
        chosen = [r for r in rows if r["split"] == split]
        missing = [r["file"] for r in chosen if not (data / r["file"]).is_file()]
        if missing:
            raise RunError(f"{len(missing)} {split} images of the run are not under {data} "
                           f"(first: {missing[0]}) — pass --data with the training set")
        samples = [Sample(data / r["file"], labels.index(r["class"]), r["file"]) for r in chosen]
        prepared = prepare(samples, prep, Path(cache) if cache else None, progress=False)
        usable = [r for r in prepared.records if "index" in r]
        crops[split] = (prepared.crops[[r["index"] for r in usable]],
                        np.array([r["label"] for r in usable], dtype=np.int64))
    return crops
