"""A walk-through benchmark on real photos (``make walkthrough``): people counted per clip against the truth.

Each held-out photo of ../shared/datasets/scenes-ilc with one to three boxed faces becomes a
30-frame clip: a 640x480 camera window that starts on the whole photo and closes in on its faces,
as a doorway camera sees people walking up to it. edge-run's own pipeline (its detector, model,
tracker and counting; one thread) runs on each clip, and the people it counts, per label, are
compared with the photo's boxes:

- a face is *countable* when it is at least ``--min-face`` px wide in the clip's last frame;
  smaller ones may be counted or not (no detector finds a 10 px face, and a count of one is no error).

Each counted person is matched to the face they were (their median box, mapped back to the photo):

- *counted right* (per label): countable faces counted once, with the label their box has;
- *extra people*: people counted where no face is boxed, and faces counted twice. A person counted on
  a face the annotators did not box (crowds, profiles) is no extra: ``walkthrough-unboxed.json`` lists
  those faces, reviewed by eye, and they are reported apart (``unboxed_people``), as are the false
  faces the review found (``not_faces``), which a face check must reject;
- *exactly right*: every countable face counted right and no extra person; a small face may be left
  uncounted, but not counted wrong;
- ``countable_counted_as``: what each true label was counted as, "not counted" included.

``with_incorrect_mask`` faces (nose or chin out) are required only of a model that has a
``mask_incorrect`` label; for a two-class model they may be counted as anything, and what they
were counted as is reported.

Besides the walk-up, clip kinds made from the same photos hold people a door must not count
(``--kind``; the truth for each is that nobody is counted):

- *walk-by*: the camera pans across the photo at a scale where its largest face is ``FAR_PX`` wide:
  people who cross the picture and never come close;
- *walk-away*: the walk-up played backwards, every face shrinking and leaving (only photos whose
  faces grow at least ``AWAY_GROWTH`` times in the walk-up: a clip of a still photo goes nowhere);
- *edge*: a photo with one boxed face, the camera closing in on it as in the walk-up but with the
  face's centre held on the frame's left, right or bottom edge, so the frame always cuts it.

For these, a clip is right when nobody is counted (a passer-by or someone leaving may be recorded as
such); the figures are the share of clips so and the people counted per clip, by label.

``--camera night`` makes every frame grey, as a camera in night (infrared) mode sees it.

Held out: a photo whose name's sha1 ends in a hex digit below 3 (about 19% of them); training on
scenes-ilc must leave these out (``held_out``).

Usage::

    python -m train.walkthrough --data ../shared/datasets/scenes-ilc --detector-dir ../shared/models/face \\
        --detector yunet haar --setting every-frame fast --kind walk-up walk-by \\
        --json runs/walkthrough.json --png runs/walkthrough.png
"""

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

from edge import config as configs
from edge import detectors
from edge.console import Parser, key_number, whole_number
from edge.crops import iou_matrix
from edge.images import read_image
from edge.pipeline import Person, Pipeline
from edge.policy import NOT_JUDGED, NOT_PEOPLE, face_labels, resolve
from edge.runtime import load_models, pipeline_for
from train.dataset import voc_faces
from train.split import held_out

UNBOXED = Path(__file__).with_name("reviewed") / "walkthrough-unboxed.json"
KEEP_FACES = 0.995  # of the real faces, the share the face check must let through
FRAME = (640, 480)
FRAMES = 30
KINDS = ("walk-up", "walk-by", "walk-away", "edge")
FAR_PX = 32  # a walk-by's largest face box, its longer side, px: someone crossing far behind the door
AWAY_GROWTH = 2.0  # a walk-away clip's faces shrink at least this many times: from 1 m to 2 m and more
EDGES = ("left", "right", "bottom")  # where an edge clip cuts its face, by turns
# The settings compared, as edge-run's [speed] section would hold them.
SETTINGS = {
    "preset": {},  # edge-run's default for the detector
    "every-frame": {"preset": "exact"},
    "fast": {"detect_every": 3, "motion_gate": True, "motion_regions": True},
    "haar-fastest": {"detect_every": 4, "motion_gate": True, "motion_regions": True},
    "every-4th+gate": {"detect_every": 4, "motion_gate": True, "motion_regions": False},
    "every-3rd+gate": {"detect_every": 3, "motion_gate": True, "motion_regions": False},
    # each part of the fast path alone, to find which one loses people
    "every-4th": {"detect_every": 4, "motion_gate": False, "motion_regions": False},
    "gate": {"detect_every": 1, "motion_gate": True, "motion_regions": False},
    "regions": {"detect_every": 1, "motion_gate": False, "motion_regions": True},
}


def windows(photo_shape, boxes: np.ndarray) -> np.ndarray:
    """The camera's window (x, y, w, h) in photo pixels for each frame: the whole photo (at 4:3) closing
    in on the faces until the largest is a third of the window's width."""
    height, width = photo_shape[:2]
    aspect = FRAME[0] / FRAME[1]
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    end_w = max(3 * boxes[:, 2].max(), (x1 - x0) * 1.3, (y1 - y0) * 1.3 * aspect)
    start_w = max(width, height * aspect)
    end_w = min(end_w, start_w)
    start = np.array([width / 2, height / 2, start_w])
    end = np.array([cx, cy, end_w])
    steps = np.linspace(0.0, 1.0, FRAMES)[:, None]
    path = start + (end - start) * steps
    return np.column_stack([path[:, 0] - path[:, 2] / 2, path[:, 1] - path[:, 2] / aspect / 2,
                            path[:, 2], path[:, 2] / aspect])


def clip_windows(kind: str, photo_shape, boxes: np.ndarray, turn: int) -> np.ndarray | None:
    """The camera's windows for a clip of ``kind``; None when the photo cannot make one (``turn`` picks the
    edge an edge clip cuts its face at)."""
    walk_up = windows(photo_shape, boxes)
    if kind == "walk-up":
        return walk_up
    if kind == "walk-away":
        grows = walk_up[0, 2] / walk_up[-1, 2]
        return walk_up[::-1] if grows >= AWAY_GROWTH else None
    if kind == "walk-by":
        return pan(photo_shape, boxes)
    if len(boxes) != 1:  # edge: other faces would be in view, wholly, and rightly counted
        return None
    return cut(walk_up, boxes[0], EDGES[turn % len(EDGES)])


def pan(photo_shape, boxes: np.ndarray) -> np.ndarray:
    """A camera panning across the faces at a scale where the largest is ``FAR_PX`` large (the photo's own
    scale if it is already smaller): they enter at one side of the frame and leave at the other. Large by
    the longer side of its box: annotators box some faces narrower than the detector does."""
    aspect = FRAME[0] / FRAME[1]
    width = max(FRAME[0], FRAME[0] * boxes[:, 2:].max() / FAR_PX)
    x0, x1 = boxes[:, 0].min(), (boxes[:, 0] + boxes[:, 2]).max()
    cy = ((boxes[:, 1] + boxes[:, 3] / 2).min() + (boxes[:, 1] + boxes[:, 3] / 2).max()) / 2
    # from the faces just beyond the frame's right edge to just beyond its left one
    cx = np.linspace(x0 - width / 2 - boxes[:, 2].max(), x1 + width / 2 + boxes[:, 2].max(), FRAMES)
    return np.column_stack([cx - width / 2, np.full(FRAMES, cy - width / aspect / 2), np.full(FRAMES, width),
                            np.full(FRAMES, width / aspect)])


def cut(walk_up: np.ndarray, box: np.ndarray, edge: str) -> np.ndarray:
    """The walk-up's windows, moved so the face's centre stays on one edge of the frame."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    moved = walk_up.copy()
    moved[:, 1] = cy - moved[:, 3] / 2
    if edge == "left":
        moved[:, 0] = cx
    elif edge == "right":
        moved[:, 0] = cx - moved[:, 2]
    else:
        moved[:, 0] = cx - moved[:, 2] / 2
        moved[:, 1] = cy - moved[:, 3]
    return moved


def frame_at(photo: np.ndarray, window) -> np.ndarray:
    x, y, w, h = window
    scale = FRAME[0] / w
    matrix = np.array([[scale, 0, -x * scale], [0, scale, -y * scale]])
    shrink = scale < 1
    # Beyond the photo's edge the camera sees a plain wall: replicated edges would draw streaks.
    return cv2.warpAffine(photo, matrix, FRAME, flags=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(80, 80, 80))


def in_frame(boxes: np.ndarray, window) -> np.ndarray:
    x, y, w, _ = window
    scale = FRAME[0] / w
    return np.column_stack([(boxes[:, 0] - x) * scale, (boxes[:, 1] - y) * scale, boxes[:, 2:] * scale])


def to_photo(box: np.ndarray, window) -> np.ndarray:
    """A box in a frame's pixels, in the photo's."""
    x, y, w, _ = window
    scale = FRAME[0] / w
    return np.array([box[0] / scale + x, box[1] / scale + y, box[2] / scale, box[3] / scale])


def matches(found: np.ndarray, truth: np.ndarray) -> list[int | None]:
    """The truth face each found box is (greedy by overlap), or None: a detector's box and an annotator's
    frame a face differently, so a box whose centre lies in a truth box of a like size is that face too."""
    found, truth = np.asarray(found, np.float64).reshape(-1, 4), np.asarray(truth, np.float64).reshape(-1, 4)
    score = iou_matrix(found, truth)
    cx, cy = (found[:, :1] + found[:, 2:3] / 2), (found[:, 1:2] + found[:, 3:4] / 2)
    inside = ((cx >= truth[None, :, 0]) & (cx <= truth[None, :, 0] + truth[None, :, 2])
              & (cy >= truth[None, :, 1]) & (cy <= truth[None, :, 1] + truth[None, :, 3]))
    ratio = found[:, 2:3] / np.maximum(truth[None, :, 2], 1e-9)
    score = np.where(inside & (ratio > 0.5) & (ratio < 2.0), np.maximum(score, 0.3), score)
    out: list[int | None] = [None] * len(found)
    for f, t in zip(*np.unravel_index(np.argsort(-score, axis=None), score.shape), strict=True):
        if score[f, t] < 0.25:
            break
        if out[f] is None and t not in out:
            out[f] = int(t)
    return out


@dataclasses.dataclass
class Clip:
    name: str
    truth: list[str]  # label of each face
    widths: list[float]  # its width in the last frame, px
    counted: dict[str, int]
    # each counted person (of the door): (label, its box in the photo's pixels, the truth face it is or None, the
    # detector's best score for it)
    people: list[tuple[str, list[float], int | None, float]] = dataclasses.field(default_factory=list)
    last_frame: np.ndarray | None = None
    last_faces: list = dataclasses.field(default_factory=list)

    def judge_nobody(self) -> dict:
        """A clip of people this door must not count: the people it counted anyway, by label (passers-by and
        people leaving, recorded as such, are no people)."""
        counted = {label: n for label, n in self.counted.items() if label not in NOT_PEOPLE}
        return {"people_counted": sum(counted.values()), "counted": counted,
                "recorded": {label: n for label, n in self.counted.items() if label in NOT_PEOPLE},
                "exact": not counted}

    def judge(self, labels: list[str], min_face: float, unboxed: list[list[float]] = (),
              false_faces: list[list[float]] = ()) -> dict:
        """People counted right per label, extra people and whether the clip is exactly right, person by
        person: each counted person is matched to the face it was (its median box in the photo).

        ``unboxed``: reviewed faces the photo's annotators did not box; a person counted there is a real
        person, reported apart (``unboxed``), not an extra. ``false_faces``: reviewed detections that are no
        face; an extra counted there is also reported as ``false_faces``."""
        need = {label: 0 for label in labels}
        right = dict(need)
        seen: dict[int, str] = {}
        extra = unboxed_people = false = extra_not_judged = 0
        for label, box, face, _ in self.people:
            if face is None:
                if len(unboxed) and matches([box], unboxed)[0] is not None:
                    unboxed_people += 1
                else:
                    extra += 1
                    extra_not_judged += label == NOT_JUDGED
                    false += len(false_faces) > 0 and matches([box], false_faces)[0] is not None
            elif face in seen:
                extra += 1  # the same face counted twice
                extra_not_judged += label == NOT_JUDGED
            else:
                seen[face] = label
        wrong = 0
        confusion: dict[str, Counter] = {}
        for face, (label, width) in enumerate(zip(self.truth, self.widths, strict=True)):
            if width >= min_face:
                confusion.setdefault(label, Counter())[seen.get(face, "not counted")] += 1
            if label not in labels:
                continue  # an incorrect mask, for a model without that label: any count is right
            if width >= min_face:
                need[label] += 1
                if seen.get(face) == label:
                    right[label] += 1
                else:
                    wrong += 1
            elif face in seen and seen[face] not in (label, NOT_JUDGED):
                wrong += 1  # a small face need not be counted (or judged), but not counted wrong either
        return {"need": need, "right": right, "extra": extra, "extra_not_judged": extra_not_judged,
                "unboxed": unboxed_people, "false_faces": false,
                "confusion": {truth: dict(row) for truth, row in confusion.items()}, "exact": wrong == 0 and extra == 0}


def run_clip(pipeline: Pipeline, photo: np.ndarray, name: str, faces, keep: bool, night: bool = False,
             path: np.ndarray | None = None) -> Clip:
    """``night``: the camera in night (infrared) mode, which sees in grey; ``path``: the camera's windows
    (default: the walk-up's)."""
    boxes = np.stack([box for _, box in faces])
    path = windows(photo.shape, boxes) if path is None else path
    result = None
    seen: dict[int, list[np.ndarray]] = {}
    counted: list[Person] = []
    for window in path:
        frame = frame_at(photo, window)
        if night:
            frame = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        result = pipeline.process(frame)
        counted += result.counted
        for face in result.faces:
            seen.setdefault(face.track, []).append(to_photo(np.array(face.box, np.float64), window))
    counted += pipeline.finish()  # the clip ends: so does everyone's track
    people = []  # passers-by and people leaving, recorded as such, are in ``counted`` only
    for person in (person for person in counted if person.label not in NOT_PEOPLE):
        box = np.median(np.stack(seen[person.track.id]), axis=0)
        people.append((person.label, [round(float(v), 1) for v in box], matches([box], boxes)[0],
                       round(person.track.best_score, 4)))
    widths = in_frame(boxes, path[-1])[:, 2].tolist()
    return Clip(name, [label for label, _ in faces], widths, dict(Counter(p.label for p in counted)), people,
                frame if keep else None, result.faces if keep else [])


def photos(data: Path, every: int, limit: int | None, training: bool = False):
    """(name, picture, faces) of the held-out (or the ``training``) photos with one to three boxed faces."""
    names = sorted(p.stem for p in (data / "annotations").glob("*.xml") if held_out(p.stem) != training)
    chosen = 0
    for index, name in enumerate(names):
        if index % every:
            continue
        faces = [(label, np.array(box)) for label, box in voc_faces(data / "annotations" / f"{name}.xml")]
        if not 1 <= len(faces) <= 3:
            continue
        yield name, read_image(data / "images" / f"{name}.jpg").bgr, faces
        chosen += 1
        if limit is not None and chosen >= limit:
            return


def summarize(judged: list[dict], clips: list[Clip], labels: list[str], min_face: float) -> dict:
    need = {label: sum(j["need"][label] for j in judged) for label in labels}
    right = {label: sum(j["right"][label] for j in judged) for label in labels}
    incorrect = [c for c in clips if "mask_incorrect" in c.truth and "mask_incorrect" not in labels]
    confusion: dict[str, Counter] = {}
    for j in judged:
        for truth, row in j["confusion"].items():
            confusion.setdefault(truth, Counter()).update(row)
    return {
        "clips": len(clips), "countable": need, "counted_right": right,
        "counted_right_share": {label: round(right[label] / need[label], 4) if need[label] else None
                                for label in labels},
        "extra_people": sum(j["extra"] for j in judged),
        "extra_not_judged": sum(j["extra_not_judged"] for j in judged),
        "extra_per_clip": round(sum(j["extra"] for j in judged) / max(1, len(clips)), 4),
        "exactly_right": round(sum(j["exact"] for j in judged) / max(1, len(clips)), 4),
        "unboxed_people": sum(j["unboxed"] for j in judged),
        "extra_on_reviewed_false_faces": sum(j["false_faces"] for j in judged),
        "countable_counted_as": {truth: dict(row) for truth, row in confusion.items()},
        "clips_with_incorrect_masks": len(incorrect),
        "face_score_floor": face_score_floor(clips, min_face),
    }


def summarize_nobody(judged: list[dict], clips: list[Clip]) -> dict:
    """A kind of clip in which nobody is to be counted: the share of clips that counted nobody, the people
    counted per clip and as what, and the passers-by and people leaving recorded as such."""
    counted, recorded = Counter(), Counter()
    for j in judged:
        counted.update(j["counted"])
        recorded.update(j["recorded"])
    return {"clips": len(clips), "nobody_counted": round(sum(j["exact"] for j in judged) / max(1, len(clips)), 4),
            "people_per_clip": round(sum(j["people_counted"] for j in judged) / max(1, len(clips)), 4),
            "counted_as": dict(counted), "recorded": dict(recorded)}


def face_score_floor(clips: list[Clip], min_face: float, keep: float = KEEP_FACES) -> float | None:
    """The detector score that ``keep`` of the countable real faces counted reached on their best frame:
    run on the training photos with the face check off (``--photos training --tracker face_score=0``), it is the
    floor ``[tracker] face_score`` defaults to for the detector."""
    best = [score for clip in clips for _, _, face, score in clip.people
            if face is not None and clip.widths[face] >= min_face]
    return round(float(np.quantile(best, 1 - keep)), 3) if best else None


def worst_png(path: Path, clips: list[Clip], judged: list[dict], policy, title: str) -> None:
    """The last frames of the clips counted furthest from the truth, with their tracks, in one picture."""
    from edge.snapshots import annotate

    def error(j):
        if "people_counted" in j:  # a clip in which nobody is to be counted
            return j["people_counted"]
        return j["extra"] + sum(n - j["right"][label] for label, n in j["need"].items())

    order = [i for i in sorted(range(len(clips)), key=lambda i: -error(judged[i])) if error(judged[i])][:8]
    if not order:
        return
    tiles = []
    for i in order:
        clip = clips[i]
        tile = annotate(clip.last_frame, SimpleNamespace(faces=clip.last_faces), policy)
        if "people_counted" in judged[i]:
            truth = "nobody to count"
        else:
            loose = sum(t not in judged[i]["need"] for t in clip.truth)
            truth = ", ".join([f"{n} {label}" for label, n in judged[i]["need"].items() if n]
                              + ([f"{loose} mask_incorrect (any label)"] if loose else [])) or "only small faces"
        counted = ", ".join(f"{n} {label}" for label, n in clip.counted.items()) or "nobody"
        for row, text in enumerate((clip.name[:12], f"truth: {truth}", f"counted: {counted}")):
            cv2.putText(tile, text, (8, 22 + 22 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 4, cv2.LINE_AA)
            cv2.putText(tile, text, (8, 22 + 22 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1,
                        cv2.LINE_AA)
        tiles.append(cv2.resize(tile, (480, 360), interpolation=cv2.INTER_AREA))
    while len(tiles) % 4:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.vstack([np.hstack(tiles[r:r + 4]) for r in range(0, len(tiles), 4)])
    banner = np.full((40, grid.shape[1], 3), 255, np.uint8)
    cv2.putText(banner, title, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2, cv2.LINE_AA)
    if not cv2.imwrite(str(path), np.vstack([banner, grid])):
        raise OSError(f"cannot write {path}")


def main(argv=None) -> int:
    p = Parser(prog="python -m train.walkthrough", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="scenes-ilc: images/ and annotations/ (Pascal VOC)")
    p.add_argument("--detector-dir", type=Path, required=True)
    p.add_argument("--detector", nargs="+", default=["maskwatch"], choices=detectors.names())
    p.add_argument("--detect-runtime", default=detectors.AUTO, choices=(detectors.AUTO, *detectors.RUNTIMES),
                   help="what runs the detector (default: edge-run's auto)")
    p.add_argument("--setting", nargs="+", default=["every-frame", "fast"], choices=list(SETTINGS))
    p.add_argument("--kind", nargs="+", default=["walk-up"], choices=KINDS,
                   help="clip kinds: walk-up (people to count) and walk-by, walk-away, edge (nobody to count)")
    p.add_argument("--model", default=None, help="model bundle (default: the shipped one)")
    p.add_argument("--min-face", type=whole_number(8), default=40, help="px in the last frame to be countable")
    p.add_argument("--photos", choices=("held-out", "training"), default="held-out",
                   help="training: the photos a model may learn from, to fit the face check's floor on")
    p.add_argument("--tracker", nargs="+", type=key_number, default=[], metavar="KEY=VALUE",
                   help="[tracker] settings to change, e.g. face_score=0 (the face check off) or judge_frames=5")
    p.add_argument("--camera", choices=("colour", "night"), default="colour",
                   help="night: every frame grey, as a camera in night (infrared) mode sees it")
    p.add_argument("--every", type=whole_number(1), default=1, help="take every n-th held-out photo")
    p.add_argument("--limit", type=whole_number(1), default=None, help="at most this many clips")
    p.add_argument("--unboxed", type=Path, default=UNBOXED,
                   help="reviewed faces the annotators did not box (a person counted there is no extra)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--png", type=Path, default=None, help="the worst clips of the first detector and setting")
    args = p.parse_args(argv)
    if not (args.data / "annotations").is_dir():
        p.error(f"{args.data} has no annotations/ folder — give ../shared/datasets/scenes-ilc")
    for out in (args.json, args.png):
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
    cv2.setNumThreads(1)
    try:
        review = json.loads(args.unboxed.read_text())
        unboxed, false_faces = review["faces"], review["not_faces"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        p.error(f"cannot read the review of unboxed faces {args.unboxed} ({exc!r}) — give --unboxed "
                "train/reviewed/walkthrough-unboxed.json")
    tracker = dict(args.tracker)
    try:
        configs.from_dict({"tracker": tracker}, "--tracker")
    except configs.ConfigError as exc:
        p.error(str(exc))
    results = []
    for detector_name in args.detector:
        for setting in args.setting:
            config = configs.from_dict({"detector": {"name": detector_name, "model_dir": str(args.detector_dir),
                                                     "threads": 1, "runtime": args.detect_runtime},
                                        "tracker": tracker,
                                        "model": {"path": args.model} if args.model else {},
                                        "speed": SETTINGS[setting]})
            models = load_models(config)
            classifier, detector = models.classifier, models.detector
            labels = face_labels(classifier.manifest.labels)
            first = not results
            keep = first and args.png is not None
            for kind in args.kind:
                clips, judged, started = [], [], time.perf_counter()
                chosen = photos(args.data, args.every, args.limit, args.photos == "training")
                for turn, (name, photo, faces) in enumerate(chosen):
                    path = clip_windows(kind, photo.shape, np.stack([box for _, box in faces]), turn)
                    if path is None or (kind == "edge" and unboxed.get(name)):
                        continue  # an edge clip's frame would show an unboxed face wholly, rightly counted
                    clips.append(run_clip(pipeline_for(config, models), photo, name, faces, keep,
                                          args.camera == "night", path))
                    judged.append(clips[-1].judge(labels, args.min_face, unboxed.get(name, []),
                                                  false_faces.get(name, []))
                                  if kind == "walk-up" else clips[-1].judge_nobody())
                    if len(clips) % 50 == 0:
                        print(f"  {detector_name} {setting} {kind}: {len(clips)} clips ...", file=sys.stderr,
                              flush=True)
                summary = (summarize(judged, clips, labels, args.min_face) if kind == "walk-up"
                           else summarize_nobody(judged, clips))
                summary = {"detector": detector_name, "runtime": detector.runtime, "setting": setting, "kind": kind,
                           "camera": args.camera,
                           **summary, "speed": config.speed.settings(detector.name), "model": classifier.shown_name,
                           "seconds": round(time.perf_counter() - started, 1)}
                shown = (("counted_right_share", "extra_per_clip", "extra_not_judged", "exactly_right",
                          "unboxed_people", "extra_on_reviewed_false_faces", "face_score_floor")
                         if kind == "walk-up" else ("nobody_counted", "people_per_clip", "counted_as", "recorded"))
                print(json.dumps({k: summary[k] for k in ("detector", "setting", "kind", "camera", "clips", *shown)}))
                if keep:
                    png = args.png if kind == "walk-up" else args.png.with_name(f"{args.png.stem}-{kind}.png")
                    worst_png(png, clips, judged, resolve(classifier.manifest, {}),
                              f"worst {kind} clips: {detector_name}, {setting} ({summary['clips']} clips)")
                summary["per_clip"] = [{"photo": c.name, "truth": c.truth, "widths": [round(w) for w in c.widths],
                                        "counted": c.counted, "people": c.people, **j}
                                       for c, j in zip(clips, judged, strict=True)]
                results.append(summary)
    if args.json:
        args.json.write_text(json.dumps({"min_face": args.min_face, "frames": FRAMES, "runs": results}, indent=2)
                             + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
