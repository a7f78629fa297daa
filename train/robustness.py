"""``python -m train.robustness``: how far the exported model holds up, condition by condition.

Each test-split face crop of a run is transformed the way a doorway camera degrades it
(small faces, darkness, a night-mode camera's grey, motion blur, JPEG artefacts, off-centre
detector boxes, a hand or cloth over the mouth) and classified by the device's own backend. Writes
``robustness.json``, ``robustness.md``, ``robustness.png`` (one example per condition) and
``failures.png`` (the untransformed test crops it gets wrong, to look at).
"""

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edge.classifiers import load_classifier
from edge.console import Parser, run_main, whole_number
from edge.decision import predict_labels
from edge.scoring import summarize
from train.rundir import add_run_data_options, read_run, run_crops

# Where the mouth and chin sit in a crop: the face box fills the middle 1/1.4 of it (20%
# margin per side) and the mouth lies about three quarters of the way down the face.
MOUTH = (0.5, 0.69)


def smaller(pixels: int) -> Callable:
    """The face as a detector delivers it when it is ``pixels`` wide on the frame."""
    def transform(crop, rng):
        size = crop.shape[0]
        small = cv2.resize(crop, (pixels, pixels), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    return transform


def darker(gain: float, noise: float) -> Callable:
    """Under-exposed: fewer photons, and the sensor noise that comes with them."""
    def transform(crop, rng):
        dark = crop.astype(np.float32) * gain + rng.normal(0, noise, crop.shape)
        return np.clip(dark, 0, 255).astype(np.uint8)
    return transform


def night(gain: float = 1.0, noise: float = 0.0) -> Callable:
    """A camera in night (infrared) mode: grey, and at ``gain`` < 1 under-exposed with sensor noise too."""
    dim = darker(gain, noise)  # at the defaults it changes no pixel

    def transform(crop, rng):
        return dim(cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB), rng)
    return transform


def motion_blur(length: int) -> Callable:
    """Someone walking across the frame: a horizontal smear ``length`` px long."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1 / length

    def transform(crop, rng):
        return cv2.filter2D(crop, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    return transform


def jpeg(quality: int) -> Callable:
    def transform(crop, rng):
        ok, encoded = cv2.imencode(".jpg", crop[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
    return transform


def off_centre(shift: float, zoom: float = 1.0) -> Callable:
    """A detector box that sits ``shift`` of the crop off the face in a random direction,
    and is ``zoom`` times tighter (>1) or looser (<1) than the training crops."""
    def transform(crop, rng):
        size = crop.shape[0]
        angle = rng.uniform(0, 2 * np.pi)
        dx, dy = shift * size * np.cos(angle), shift * size * np.sin(angle)
        matrix = np.float32([[zoom, 0, (1 - zoom) * size / 2 + dx], [0, zoom, (1 - zoom) * size / 2 + dy]])
        return cv2.warpAffine(crop, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
    return transform


def hand_over_mouth(crop, rng):
    """A hand in the face's own skin tone (sampled from the cheeks) over mouth and chin."""
    size = crop.shape[0]
    cheeks = crop[int(0.45 * size):int(0.55 * size), int(0.3 * size):int(0.7 * size)].reshape(-1, 3)
    skin = np.median(cheeks, axis=0) * rng.uniform(0.9, 1.1)
    covered = crop.copy()
    centre = (int(MOUTH[0] * size), int(MOUTH[1] * size))
    cv2.ellipse(covered, centre, (int(0.24 * size), int(0.12 * size)), rng.uniform(-15, 15), 0, 360,
                tuple(float(c) for c in np.clip(skin, 0, 255)), -1)
    for finger in range(1, 4):  # the gaps between fingers, darker
        y = int((MOUTH[1] - 0.12 + finger * 0.06) * size)
        cv2.line(covered, (int(0.3 * size), y), (int(0.7 * size), y), tuple(float(c) * 0.75 for c in skin), 1)
    return cv2.GaussianBlur(covered, (3, 3), 0)


def cloth_over_mouth(crop, rng):
    """A scarf or a sleeve: a plain band of a random colour over nose, mouth and chin."""
    size = crop.shape[0]
    covered = crop.copy()
    colour = tuple(float(c) for c in rng.integers(20, 235, 3))
    top, bottom = int((MOUTH[1] - 0.14) * size), int((MOUTH[1] + 0.17) * size)
    cv2.rectangle(covered, (int(0.12 * size), top), (int(0.88 * size), bottom), colour, -1)
    return covered


def beard(crop, rng):
    """A full beard drawn on: dark, hair-textured jaw and chin, upper lip and mouth left open.

    The dataset has no beard labels and few bearded faces, so this stands in for them."""
    size = crop.shape[0]
    centre = (int(MOUTH[0] * size), int((MOUTH[1] - 0.02) * size))
    region = np.zeros(crop.shape[:2], np.uint8)
    cv2.ellipse(region, centre, (int(0.30 * size), int(0.22 * size)), 0, 0, 180, 255, -1)
    cv2.ellipse(region, (centre[0], int(MOUTH[1] * size)), (int(0.11 * size), int(0.04 * size)), 0, 0, 360, 0, -1)
    hair = np.array([40, 30, 22], np.float32) * rng.uniform(0.6, 1.4) + rng.normal(0, 14, crop.shape)
    covered = np.where(region[..., None] > 0, np.clip(hair, 0, 255), crop)
    return covered.astype(np.uint8)


# (name, transform, which true classes it applies to: None = all). A hand or a scarf over
# an unmasked face is still no mask: the right answer stays without_mask.
CONDITIONS: list[tuple[str, Callable | None, str | None]] = [
    ("clean", None, None),
    ("small face 64 px", smaller(64), None),
    ("small face 48 px", smaller(48), None),
    ("small face 32 px", smaller(32), None),
    ("dark (x0.35, noise 4)", darker(0.35, 4), None),
    ("very dark (x0.15, noise 6)", darker(0.15, 6), None),
    ("night camera: grey", night(), None),
    ("night camera: grey, dark (x0.35, noise 4)", night(0.35, 4), None),
    ("motion blur 9 px", motion_blur(9), None),
    ("motion blur 17 px", motion_blur(17), None),
    ("JPEG quality 20", jpeg(20), None),
    ("JPEG quality 5", jpeg(5), None),
    ("off-centre 10%", off_centre(0.10), None),
    ("off-centre 20%", off_centre(0.20), None),
    ("box 25% tighter", off_centre(0.0, 1.25), None),
    ("box 25% looser", off_centre(0.0, 0.8), None),
    ("hand over mouth (unmasked)", hand_over_mouth, "without_mask"),
    ("cloth over mouth (unmasked)", cloth_over_mouth, "without_mask"),
    ("full beard, drawn (unmasked)", beard, "without_mask"),
]


def evaluate(classifier, crops, labels, names, seed: int) -> tuple[list[dict], list, list]:
    """Per-condition scores, one example crop per condition, and the clean crops it gets wrong."""
    manifest = classifier.manifest
    rows = []
    examples = []
    for name, transform, only in CONDITIONS:
        rng = np.random.default_rng(seed)
        keep = np.ones(len(labels), bool) if only is None else labels == names.index(only)
        chosen = crops[keep]
        if transform is not None:
            chosen = np.stack([transform(c, rng) for c in chosen])
        probabilities = np.concatenate([classifier.classify(chosen[i:i + 64]) for i in range(0, len(chosen), 64)])
        result = summarize(labels[keep], probabilities, names, manifest.violation_label, classifier.threshold)
        predicted = predict_labels(probabilities, manifest.violation_index, classifier.threshold,
                                   manifest.not_face_index)
        row = {"condition": name, "n": int(keep.sum()), "accuracy": result["accuracy"]}
        for label, scores in result["per_class"].items():
            row[f"{label}_recall"] = scores["recall"] if scores["support"] else None
        for index, label in enumerate(names):
            row[f"called_{label}"] = float(np.mean(predicted == index))
        rows.append(row)
        if transform is None:
            wrong = np.flatnonzero(predicted != labels[keep])
            failures = [(f"{names[labels[keep][i]]} called {names[predicted[i]]}", chosen[i]) for i in wrong]
        examples.append((name, chosen[0]))
        print(f"  {name:30s} n={row['n']:4d} accuracy {row['accuracy']:.4f}", file=sys.stderr, flush=True)
    return rows, examples, failures


def render(rows, model: str, backend: str, names: list[str]) -> str:
    lines = [f"Robustness of `{model}` ({backend}) on transformed test-split face crops.", "",
             "| condition | n | accuracy | " + " | ".join(f"{label} recall" for label in names) + " |",
             "|---|---|---|" + "---|" * len(names)]

    def cell(value):
        return "-" if value is None else f"{value:.4f}"

    for r in rows:
        lines.append(f"| {r['condition']} | {r['n']} | {r['accuracy']:.4f} | "
                     + " | ".join(cell(r.get(f"{label}_recall")) for label in names) + " |")
    return "\n".join(lines) + "\n"


def example_sheet(examples, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 8
    rows = -(-len(examples) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2 * columns, 2.3 * rows))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, crop) in zip(axes.flat, examples, strict=False):
        ax.imshow(crop)
        ax.set_title(name, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def body(args) -> None:
    contract, config, rows = read_run(args.run)
    test = run_crops(contract, config, rows, args.data, args.detector_dir, args.cache, splits=("test",))
    crops, labels = test["test"]
    classifier = load_classifier(args.model, args.backend)
    names = classifier.manifest.labels
    if classifier.size != crops.shape[1]:
        raise ValueError(f"the run's crops are {crops.shape[1]} px but {args.model} takes {classifier.size} px — "
                         "pass the export of this run")
    print(f"robustness of {classifier.manifest.name} ({classifier.artifact.backend}) on {len(labels)} test crops",
          file=sys.stderr)
    results, examples, failures = evaluate(classifier, crops, labels, names, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "robustness.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "robustness.md").write_text(render(results, str(args.model), classifier.artifact.backend, names))
    example_sheet(examples, args.out / "robustness.png")
    if failures:
        example_sheet(failures, args.out / "failures.png")
    print(render(results, str(args.model), classifier.artifact.backend, names))


def main(argv=None) -> int:
    p = Parser(prog="python -m train.robustness", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="training run folder (its test split is used)")
    p.add_argument("--model", type=Path, required=True, help="the run's exported bundle (folder, manifest, tarball)")
    p.add_argument("--backend", default="litert-int8")
    p.add_argument("--out", type=Path, default=None, help="folder for the results (default: RUN/robustness)")
    add_run_data_options(p)
    p.add_argument("--seed", type=whole_number(0), default=0)
    p.add_argument("--debug", action="store_true")
    args = p.parse_args(argv)
    args.out = args.out or args.run / "robustness"
    return run_main("python -m train.robustness", body, args)


if __name__ == "__main__":
    sys.exit(main())
