"""How well face detectors find faces on held-out photos (``make detector-eval``): recall at matched false faces.

Usage::

    python -m train.detector_eval --data ../shared/datasets/scenes-ilc ../shared/datasets/scenes-ap27 \\
        --detector stock=../shared/models/face/face_detection_yunet_2026may.onnx \\
        ours=edge/models/detectors/maskwatch/detector.onnx \\
        --peer aizoo=../shared/models/peers/aizoo/face_mask_detection.tflite --sides 640 480 320 \\
        --json runs/detector-eval.json --png runs/detector-eval.png

Each test photo becomes a camera frame (its longer side 640 px) and each detector runs on it at a longer
side of ``--sides`` (shrunk as edge-run shrinks frames). A boxed face at least 32 px wide in the frame is
*countable*; a detection overlapping one (IoU >= 0.4, best score first) finds it. Detections on smaller
boxes, on the reviewed faces nobody boxed, or a second one on a found face are neither found nor false; any
other detection is a *false face* (crowds hold unboxed faces, so some of them are real: the count is the
same for every detector). Detectors are compared at the same number of false faces: stock YuNet's at its
face-check score (0.66); ``reviewed_false_faces`` counts detections on the reviewed false faces of the
test photos (backs of heads, hands, patterns). ``ms_per_frame``: one 640x480 frame, one thread, median.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.console import Parser
from edge.crops import downscale_for_detection
from edge.detectors.yunet_litert import LitertYunet
from edge.errors import EdgeError
from edge.images import read_image
from train.detector_data import Photo, corner_iou, photos

FRAME_SIDE = 640
MATCH_IOU = 0.4
COUNTABLE_PX = 32
BUCKETS = {"32-64": (32, 64), "64-128": (64, 128), ">=128": (128, np.inf)}
LABELS = ("with_mask", "without_mask", "mask_incorrect")
STOCK_FACE_SCORE = 0.66
LOWEST = 0.3  # detections kept below every threshold compared


def frame_of(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo as a camera frame: its longer side at most FRAME_SIDE."""
    return downscale_for_detection(image, FRAME_SIDE)


class YunetOnnx:
    """A YuNet-headed ONNX through ``cv2.FaceDetectorYN``, or its TFLite twin through LiteRT, as edge-run runs
    them."""

    def __init__(self, path: Path):
        if Path(path).suffix == ".tflite":
            self.litert = LitertYunet(Path(path), LOWEST, 0.3, threads=1)
        else:
            self.litert, self.net = None, cv2.FaceDetectorYN.create(str(path), "", (320, 320), LOWEST, 0.3, 5000)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self.litert is not None:
            faces = self.litert.detect(image)
        else:
            self.net.setInputSize((image.shape[1], image.shape[0]))
            faces = self.net.detect(image)[1]
        if faces is None:
            return np.zeros((0, 5), np.float32)
        return np.column_stack([faces[:, :2], faces[:, :2] + faces[:, 2:4], faces[:, 14]])


class Aizoo:
    """The AIZOO one-stage mask detector (a peer, measured, never shipped): facts in ../shared/README.md."""

    SIDE = 260
    MAPS = (33, 17, 9, 5, 3)
    SIZES = ((0.04, 0.056), (0.08, 0.11), (0.16, 0.22), (0.32, 0.45), (0.64, 0.72))
    RATIOS = (1.0, 0.62, 0.42)

    def __init__(self, path: Path):
        import tensorflow as tf

        self.interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
        self.loc = next(i for n, i in outputs.items() if n.startswith("loc"))
        self.cls = next(i for n, i in outputs.items() if n.startswith("cls"))
        anchors = []
        for size, sides in zip(self.MAPS, self.SIZES, strict=False):
            centre = (np.arange(size) + 0.5) / size
            cy, cx = np.meshgrid(centre, centre, indexing="ij")
            shapes = [(s, s) for s in sides] + [(sides[0] * np.sqrt(r), sides[0] / np.sqrt(r)) for r in self.RATIOS[1:]]
            cell = [np.column_stack([cx.ravel(), cy.ravel(), np.full(cx.size, w), np.full(cx.size, h)])
                    for w, h in shapes]
            anchors.append(np.stack(cell, axis=1).reshape(-1, 4))
        self.anchors = np.vstack(anchors)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        rgb = cv2.cvtColor(cv2.resize(image, (self.SIDE, self.SIDE)), cv2.COLOR_BGR2RGB)
        self.interpreter.set_tensor(self.input, (rgb[None] / 255.0).astype(np.float32))
        self.interpreter.invoke()
        loc = self.interpreter.get_tensor(self.loc)[0]
        scores = self.interpreter.get_tensor(self.cls)[0].max(axis=1)
        a = self.anchors
        centre = a[:, :2] + loc[:, :2] * 0.1 * a[:, 2:]
        size = a[:, 2:] * np.exp(loc[:, 2:] * 0.2)
        boxes = np.hstack([centre - size / 2, centre + size / 2]) * [width, height, width, height]
        keep = scores >= LOWEST
        boxes, scores = boxes[keep], scores[keep]
        chosen = cv2.dnn.NMSBoxes(np.hstack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).tolist(),
                                  scores.tolist(), LOWEST, 0.4)
        chosen = np.asarray(chosen, int).reshape(-1)
        return np.column_stack([boxes[chosen], scores[chosen]]).astype(np.float32)


@dataclass
class Record:
    """A detector's detections on a set of photos, each already judged."""

    scores: np.ndarray  # every detection's score
    false: np.ndarray  # whether it is a false face
    reviewed_false: np.ndarray  # whether it lies on a reviewed false face
    found_score: np.ndarray  # per countable face: the score of the detection that found it (0: none)
    labels: np.ndarray
    widths: np.ndarray

    def at_false(self, budget: int) -> float:
        """The lowest threshold with at most ``budget`` false faces."""
        false = np.sort(self.scores[self.false])[::-1]
        return float(np.nextafter(np.float32(false[budget]), np.float32(1))) if budget < len(false) else LOWEST

    def figures(self, threshold: float) -> dict:
        found = self.found_score >= threshold
        recall = {label: _share(found[self.labels == label]) for label in LABELS if np.any(self.labels == label)}
        by_size = {name: {label: _share(found[(self.labels == label) & (self.widths >= lo) & (self.widths < hi)])
                          for label in recall} for name, (lo, hi) in BUCKETS.items()}
        gap = recall.get("without_mask", 0) - recall.get("with_mask", 0)
        return {"threshold": round(threshold, 4), "recall": recall, "recall_by_size": by_size,
                "masked_gap": round(gap, 4), "faces": {label: int(np.sum(self.labels == label)) for label in recall},
                "false_faces": int(np.sum(self.false & (self.scores >= threshold))),
                "reviewed_false_faces": int(np.sum(self.reviewed_false & (self.scores >= threshold)))}


def _share(found: np.ndarray) -> float | None:
    return round(float(found.mean()), 4) if len(found) else None


def judge(photo: Photo, factor: float, detections: np.ndarray) -> tuple:
    """(scores, false, reviewed_false, found_score, labels, widths) of one photo's detections."""
    truth = photo.boxes * factor
    widths = truth[:, 2] - truth[:, 0]
    countable = widths >= COUNTABLE_PX
    found = np.zeros(len(truth))
    order = np.argsort(-detections[:, 4])
    detections = detections[order]
    false = np.zeros(len(detections), bool)
    overlap = corner_iou(detections[:, :4], truth) if len(truth) else np.zeros((len(detections), 0))
    unboxed = corner_iou(detections[:, :4], photo.faces_unboxed * factor).max(axis=1, initial=0)
    reviewed = corner_iou(detections[:, :4], photo.negatives * factor).max(axis=1, initial=0) >= MATCH_IOU
    for n, row in enumerate(overlap):
        free = np.where(found == 0, row, 0)
        if free.size and free.max() >= MATCH_IOU:
            best = int(free.argmax())
            found[best] = detections[n, 4]
        elif not (row.size and row.max() >= MATCH_IOU) and unboxed[n] < MATCH_IOU:
            false[n] = True
    return (detections[:, 4], false, reviewed & false, found[countable],
            np.asarray(photo.labels)[countable] if len(truth) else np.zeros(0, str), widths[countable])


def run(detector, items: list[Photo], side: int, progress=None) -> Record:
    """``detector`` (frame -> rows x0, y0, x1, y1, score) on every photo, shrunk to a longer side of ``side``."""
    parts = []
    for n, photo in enumerate(items):
        frame, factor = frame_of(read_image(photo.path).bgr)
        small, shrink = downscale_for_detection(frame, side)
        detections = detector(small).astype(np.float64)
        detections[:, :4] /= shrink
        parts.append(judge(photo, factor, detections))
        if progress and (n + 1) % 100 == 0:
            progress(f"  {n + 1}/{len(items)} photos")
    columns = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(6)]
    return Record(columns[0], columns[1].astype(bool), columns[2].astype(bool), columns[3],
                  columns[4].astype(str), columns[5])


def ms_per_frame(detector, side: int, repeats: int = 30) -> float:
    """Median ms of one 640x480 frame (shrink + detect), one thread."""
    frame = cv2.resize(read_image(Path(__file__).parents[1] / "edge" / "assets" / "face.jpg").bgr, (640, 480))
    times = []
    for _ in range(repeats + 3):
        started = time.perf_counter()
        small, _ = downscale_for_detection(frame, side)
        detector(small)
        times.append(time.perf_counter() - started)
    return round(1000 * float(np.median(times[3:])), 2)


def compare(records: dict[str, Record], reference: str) -> dict:
    """Every detector's figures at the reference's false faces at its face-check score."""
    budget = records[reference].figures(STOCK_FACE_SCORE)["false_faces"]
    return {name: record.figures(STOCK_FACE_SCORE if name == reference else record.at_false(budget))
            for name, record in records.items()}


def plot(result: dict, records: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = list(records)
    figure, axes = plt.subplots(1, len(sources), figsize=(6 * len(sources), 4.5), squeeze=False)
    # one colour per detector and side, masked solid and bare dotted in it: the default cycle of ten repeats
    colours = plt.get_cmap("tab20").colors
    for axis, source in zip(axes[0], sources, strict=False):
        for index, (name, record) in enumerate(records[source].items()):
            thresholds = np.linspace(LOWEST, 0.99, 120)
            false = [np.sum(record.false & (record.scores >= t)) for t in thresholds]
            for label, style in (("with_mask", "-"), ("without_mask", ":")):
                faces = record.labels == label
                if faces.any():
                    axis.plot(false, [np.mean(record.found_score[faces] >= t) for t in thresholds], style,
                              color=colours[(2 * index) % len(colours)], label=f"{name} {label}")
        budget = result[source]["false_face_budget"]
        axis.axvline(budget, color="grey", lw=0.8)
        axis.set(title=f"{source} test photos (faces >= {COUNTABLE_PX} px)", xlabel="false faces",
                 ylabel="recall", ylim=(0.6, 1.0))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(png, dpi=110)
    plt.close(figure)


def main(argv=None) -> int:
    p = Parser(prog="python -m train.detector_eval", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, nargs="+", required=True, help="scene sets (images/ + annotations/)")
    p.add_argument("--detector", nargs="+", required=True, metavar="NAME=ONNX",
                   help="YuNet-headed ONNX files (or their .tflite twins, run by LiteRT); the first is the "
                        "reference whose false faces are matched")
    p.add_argument("--peer", nargs="*", default=[], metavar="NAME=TFLITE", help="the AIZOO detector, measured alike")
    p.add_argument("--sides", type=int, nargs="+", default=[640], help="longer sides detection runs at")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--png", type=Path)
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    detectors = {}
    for text in args.detector + args.peer:
        name, _, path = text.partition("=")
        if not Path(path).is_file():
            raise EdgeError(f"{text}: no such file — give NAME=PATH")
        detectors[name] = (Aizoo if text in args.peer else YunetOnnx)(Path(path))
    reference = args.detector[0].partition("=")[0]
    result, curves = {"sides": args.sides, "reference": reference}, {}
    for source in args.data:
        items = photos([source], args.split)
        print(f"{source.name}: {len(items)} {args.split} photos", flush=True)
        records = {}
        for name, detector in detectors.items():
            for side in ([FRAME_SIDE] if name in (n.partition('=')[0] for n in args.peer) else args.sides):
                records[f"{name}@{side}"] = run(detector, items, side)
        key = f"{reference}@{FRAME_SIDE}" if f"{reference}@{FRAME_SIDE}" in records else f"{reference}@{args.sides[0]}"
        figures = compare(records, key)
        for name, fig in figures.items():
            detector_name, _, side = name.partition("@")
            fig["ms_per_frame"] = ms_per_frame(detectors[detector_name], int(side))
            print(f"  {name:>14}: masked {fig['recall'].get('with_mask')} unmasked {fig['recall'].get('without_mask')}"
                  f" gap {fig['masked_gap']:+.3f} false {fig['false_faces']} reviewed false "
                  f"{fig['reviewed_false_faces']} ({fig['ms_per_frame']} ms)", flush=True)
        result[source.name] = {"photos": len(items), "false_face_budget": figures[key]["false_faces"],
                               "detectors": figures}
        curves[source.name] = records
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    if args.png:
        plot(result, curves, args.png)
    print(f"wrote {args.json}" + (f" and {args.png}" if args.png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
