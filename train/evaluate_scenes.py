"""``python -m train.evaluate_scenes``: the device's detector and a model bundle on photos with face boxes.

Each photo of a scene set (``images/`` + ``annotations/`` in Pascal VOC) goes through edge-run's own
pipeline as a frame of its own: the face detector, the face check of ``[tracker]`` (a detection below the
detector's ``face_score`` is no person; one narrower than ``judge_px`` or turned more than ``max_turn`` is
counted *not judged*, never an alert; ``--no-face-check`` turns it off; a face the photo's edge cuts is not
judged either, ``[door]``'s rule), the manifest's crop rule, the classifier, the threshold and the policy.
Detections are matched to the boxes (IoU at least ``--min-iou``, best pairs first) and the report says, per
class and per face size:

- *detection recall*: boxed faces the detector found;
- *classification on found faces*: each found face's label against its box's (a confusion matrix of
  the faces judged; the not judged are counted per label and are not right);
- *violations found and flagged*: boxed violations (by the policy) that were found, and called one;
- *alert precision*: of the detections called a violation, the share that are a boxed violation; a
  detection that matches no box counts against it (crowd photos leave some real faces unboxed: the
  unmatched ones are counted so they can be looked at);
- *masked called a violation*: found masked faces the model called a violation.

Boxed faces smaller than ``--min-face`` (training's default, 12 px) still take the detection that
matches them, but are left out of every figure. ``--detector boxes`` classifies the boxes themselves
instead of detections: the classifier's figures without the detector's.

By default only the set's held-out photos (``train.split.held_out``, the test split of every training
run) are used; ``--all`` takes every photo. Writes ``scenes.json`` and ``scenes.png`` under ``--out``.

Usage::

    python -m train.evaluate_scenes --model edge/models/default --data ../shared/datasets/scenes-ilc \\
        --detector yunet --detector-dir ../shared/models/face --out runs/scenes-default
"""

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edge import detectors
from edge.console import Parser, key_number, number, run_main
from edge.decision import predict_labels
from edge.policy import NOT_JUDGED, NOT_PEOPLE
from edge.scoring import SIZE_BUCKETS, confusion_matrix

from .dataset import DatasetError, is_scene_set, voc_faces
from .split import held_out


def bucket(size: float) -> str:
    return next(name for low, high, name in SIZE_BUCKETS if low <= size < high)


# The face check off: every detection is a person, judged at any size and turn (the evaluator before it had one).
NO_FACE_CHECK = {"face_score": 0.0, "judge_px": 0, "max_turn": float("inf")}


def evaluate(model: str, data: Path, detector_name: str, detector_dir: str, use_all: bool = False,
             min_iou: float = 0.3, min_face: float = 12, progress: bool = True, backend: str | None = None,
             face_check: bool = True, tracker: dict | None = None) -> dict:
    """Per-face records of every photo and the figures computed from them; ``tracker``: [tracker] settings
    changed from edge-run's defaults."""
    from edge import config as configs
    from edge.classifiers import load_classifier
    from edge.crops import CropRule, crop_face, match_boxes
    from edge.detectors import create_detector
    from edge.images import read_image
    from edge.pipeline import Pipeline
    from edge.policy import VIOLATION, resolve

    if not is_scene_set(data):
        raise DatasetError(f"{data} is not a scene set: it needs images/ and annotations/ (Pascal VOC)")
    classifier = load_classifier(model, backend)
    manifest = classifier.manifest
    policy = resolve(manifest, {})
    rule = CropRule(manifest.crop.margin, manifest.crop.square)
    pipeline = None
    if detector_name != "boxes":
        # edge-run's own pipeline and [tracker] defaults on each photo as a frame of its own: the face check
        # drops the detector's false faces, faces too small or turned to judge are counted as not judged.
        settings = configs.from_dict({"tracker": tracker or {}}, "--tracker").tracker
        tracking = dataclasses.asdict(settings) | ({} if face_check else NO_FACE_CHECK)
        pipeline = Pipeline(create_detector(detector_name, detector_dir), classifier, **tracking)
    names = sorted(p.stem for p in (data / "annotations").glob("*.xml") if use_all or held_out(p.stem))
    faces, unmatched_flags, turned_down = [], [], 0
    for name in tqdm(names, desc="scenes", unit="photo", disable=not progress):
        image = next((p for p in (data / "images").glob(f"{name}.*")), None)
        if image is None:
            continue
        bgr = read_image(image).bgr
        truth = voc_faces(data / "annotations" / f"{name}.xml")
        boxes = np.array([box for _, box in truth], dtype=np.float64).reshape(-1, 4)
        if pipeline is None:
            found, predicted = boxes, []
            if len(found):
                crops = np.stack([crop_face(bgr, box, rule, classifier.size) for box in found])
                predicted = [manifest.labels[i] for i in
                             predict_labels(classifier.classify(crops), manifest.violation_index, classifier.threshold,
                                            manifest.not_face_index)]
        else:
            detected = pipeline.process(bgr, independent=True).faces
            people = [face for face in detected if face.person is not None]
            turned_down += len(detected) - len(people)
            found = np.array([face.box for face in people], dtype=np.float64).reshape(-1, 4)
            # On a photo of its own (the door's defaults: the whole frame, any size) a face is no person of
            # the door only when the photo's edge cuts it: it is found, and not judged.
            predicted = [NOT_JUDGED if face.person in NOT_PEOPLE else face.person for face in people]
        pairs = dict(match_boxes(boxes, found, min_iou))
        for t, (label, box) in enumerate(truth):
            f = pairs.get(t)
            if min(box[2:]) < min_face:
                continue
            faces.append({"photo": name, "label": label, "size": float(min(box[2:])),
                          "predicted": None if f is None else predicted[f]})
        matched = set(pairs.values())
        unmatched_flags += [{"photo": name, "box": [round(float(v)) for v in found[f]], "predicted": predicted[f]}
                            for f in range(len(found)) if f not in matched]
    return {"model": classifier.shown_name, "backend": classifier.artifact.backend,
            "detector": "boxes" if pipeline is None else pipeline.detector.name, "photos": len(names),
            "min_iou": min_iou, "min_face": min_face, "policy": policy.severity,
            "face_check": pipeline is not None and face_check, "turned_down_by_face_check": turned_down,
            **figures(faces, unmatched_flags, manifest.labels, policy, VIOLATION),
            "faces": faces, "unmatched": unmatched_flags}


def figures(faces: list[dict], unmatched: list[dict], labels: list[str], policy, violation: str) -> dict:
    truths = sorted({f["label"] for f in faces}, key=lambda x: (x not in labels, labels.index(x) if x in labels else x))
    detection = {}
    for label in truths:
        mine = [f for f in faces if f["label"] == label]
        row = {"faces": len(mine), "found": sum(f["predicted"] is not None for f in mine)}
        for _, _, name in SIZE_BUCKETS:
            sized = [f for f in mine if bucket(f["size"]) == name]
            if sized:
                row[name] = [sum(f["predicted"] is not None for f in sized), len(sized)]
        detection[label] = row
    judged = [f for f in faces if f["predicted"] not in (None, NOT_JUDGED) and f["label"] in labels]
    matrix = confusion_matrix(np.array([labels.index(f["label"]) for f in judged], int),
                              np.array([labels.index(f["predicted"]) for f in judged], int), len(labels))
    classification = {}
    for label in truths:
        mine = [f for f in faces if f["predicted"] is not None and f["label"] == label]
        row = {"found": len(mine), "called": {x: sum(f["predicted"] == x for f in mine) for x in [*labels, NOT_JUDGED]}}
        if label in labels:
            row["recall"] = row["called"][label] / len(mine) if mine else None
            for _, _, name in SIZE_BUCKETS:
                sized = [f for f in mine if bucket(f["size"]) == name]
                if sized:
                    row[name] = [sum(f["predicted"] == label for f in sized), len(sized)]
        classification[label] = row
    flagged = [f for f in faces if f["predicted"] is not None and policy.of(f["predicted"]) == violation]
    false_flags = [u for u in unmatched if policy.of(u["predicted"]) == violation]
    true_violations = [f for f in faces if policy.of(f["label"]) == violation and f["label"] in labels]
    hits = [f for f in flagged if policy.of(f["label"]) == violation]
    masked = [f for f in faces if f["predicted"] is not None and policy.of(f["label"]) == "ok"
              and f["label"] in labels]
    called = len(flagged) + len(false_flags)
    return {
        "detection": detection,
        "classification": classification,
        "accuracy_on_found": float(np.trace(matrix) / matrix.sum()) if matrix.sum() else None,
        "confusion_on_found": matrix.tolist(),
        "violations": {"faces": len(true_violations),
                       "found": sum(f["predicted"] is not None for f in true_violations),
                       "flagged": sum(policy.of(f["predicted"]) == violation for f in true_violations
                                      if f["predicted"] is not None)},
        "alerts": {"called": called, "right": len(hits), "on_other_boxed_faces": len(flagged) - len(hits),
                   "on_unboxed_detections": len(false_flags),
                   "precision": len(hits) / called if called else None},
        "masked_called_violation": (sum(policy.of(f["predicted"]) == violation for f in masked) / len(masked)
                                    if masked else None),
        "unmatched_detections": len(unmatched),
    }


def render(result: dict) -> str:
    buckets = [name for _, _, name in SIZE_BUCKETS]
    lines = [f"model {result['model']} ({result['backend']}), detector {result['detector']}, "
             f"{result['photos']} photos", "",
             "detection recall: found/faces by face size (shorter side, px)",
             f"{'':16}{'all':>10}" + "".join(f"{b:>10}" for b in buckets)]
    for label, row in result["detection"].items():
        cells = [f"{row[b][0]}/{row[b][1]}" if b in row else "-" for b in buckets]
        lines.append(f"{label:16}" + f"{row['found']}/{row['faces']}".rjust(10) + "".join(f"{c:>10}" for c in cells))
    lines += ["", "classification on found faces: right/found by size"]
    for label, row in result["classification"].items():
        if "recall" in row:
            cells = [f"{row[b][0]}/{row[b][1]}" if b in row else "-" for b in buckets]
            recall = "-" if row["recall"] is None else f"{row['recall']:.3f}"
            lines.append(f"{label:16}{recall:>10}" + "".join(f"{c:>10}" for c in cells)
                         + f"   ({row['called'][NOT_JUDGED]} not judged)")
        else:
            lines.append(f"{label:16} (not a label of the model) called: {row['called']}")
    a, v = result["alerts"], result["violations"]
    precision = "n/a" if a["precision"] is None else f"{a['precision']:.3f}"
    masked = result["masked_called_violation"]
    lines += ["", f"accuracy on found faces {result['accuracy_on_found']:.4f}",
              f"violations: {v['faces']} boxed, {v['found']} found, {v['flagged']} flagged",
              f"alert precision {precision}: {a['right']} of {a['called']} alerts are boxed violations "
              f"({a['on_other_boxed_faces']} on other boxed faces, {a['on_unboxed_detections']} on unboxed detections)",
              f"masked faces called a violation: {'n/a' if masked is None else f'{100 * masked:.1f}%'}",
              f"detections matching no box: {result['unmatched_detections']}"]
    if result["face_check"]:
        lines.append(f"detections the face check turned down: {result['turned_down_by_face_check']}")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    from .plots import plt

    buckets = [name for _, _, name in SIZE_BUCKETS]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in ((axes[0], "detection", "faces found by the detector"),
                           (axes[1], "classification", "found faces labelled right")):
        for label, row in result[key].items():
            points = [(i, row[b][0] / row[b][1]) for i, b in enumerate(buckets) if b in row]
            if points and (key == "detection" or "recall" in row):
                ax.plot(*zip(*points, strict=True), marker="o", label=label)
        ax.set_xticks(range(len(buckets)), buckets)
        ax.set_xlabel("face size, shorter side (px)")
        ax.set_ylim(0, 1.02)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    a = result["alerts"]
    precision = "n/a" if a["precision"] is None else f"{a['precision']:.2f}"
    fig.suptitle(f"{result['model']} with {result['detector']} on {result['photos']} photos: "
                 f"alert precision {precision}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    p = Parser(prog="python -m train.evaluate_scenes", description=__doc__)
    p.add_argument("--model", required=True, help="model bundle folder or tarball, or a shipped model's name")
    p.add_argument("--data", required=True, type=Path, help="scene set: images/ and annotations/ (Pascal VOC)")
    p.add_argument("--out", required=True, type=Path, help="folder for scenes.json and scenes.png (created)")
    p.add_argument("--all", action="store_true", help="every photo, not only the held-out (test) ones")
    p.add_argument("--detector", default="yunet", choices=(*detectors.choices(), "boxes"),
                   help="the device's detector, or boxes: classify the annotated boxes (the classifier alone)")
    p.add_argument("--min-face", type=number(1), default=12, help="boxed faces below this shorter side (px) are "
                   "left out of the figures")
    p.add_argument("--backend", default=None, help="as edge-run's --backend (default: LiteRT int8)")
    p.add_argument("--detector-dir", default=".", help="folder with the detector files")
    p.add_argument("--min-iou", type=number(0.05, maximum=0.95), default=0.3,
                   help="overlap at which a detection is a boxed face (hand-drawn boxes are loose)")
    p.add_argument("--no-face-check", action="store_true",
                   help="every detection is a person, judged at any size and turn (the figures before the check)")
    p.add_argument("--tracker", nargs="+", type=key_number, default=[], metavar="KEY=VALUE",
                   help="[tracker] settings to change, e.g. judge_px=24")
    p.add_argument("--debug", action="store_true")
    args = p.parse_args(argv)

    def body(a):
        result = evaluate(a.model, a.data, a.detector, a.detector_dir, a.all, a.min_iou, a.min_face, backend=a.backend,
                          face_check=not a.no_face_check, tracker=dict(a.tracker))
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "scenes.json").write_text(json.dumps(result, indent=1) + "\n")
        plot(result, a.out / "scenes.png")
        print(render(result))
        print(f"written to {a.out}/scenes.json and scenes.png")

    return run_main("python -m train.evaluate_scenes", body, args, error_code=2)


if __name__ == "__main__":
    sys.exit(main())
