"""The face check and counting on evidence, on the real pipeline: YuNet, the shipped int8 model, SQLite, and
false faces from real photos (scenes-ilc, held out; the boxes are from the review in
train/reviewed/walkthrough-unboxed.json)."""

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
from conftest import unmasked_face, write_scene

from edge import config as configs
from edge.cli import report
from edge.counts import CountStore
from edge.pipeline import Pipeline
from edge.runner import record

REVIEWED = Path(__file__).resolve().parents[1] / "train" / "reviewed"
REVIEW = json.loads((REVIEWED / "walkthrough-unboxed.json").read_text())
ORNAMENT = ("304712ea64229dfb591c18dce64eceaf", 0)  # a bauble on a Christmas tree, YuNet's 0.65 "face"
BACK_OF_HEAD = ("01ad721f2a8fec761f120c42711621f1", 0)  # a bald man seen from behind, YuNet's 0.78 "face"


def around(shared_dir, false_face, times: float) -> np.ndarray:
    """A 640x480 camera frame on a reviewed false face, ``times`` its width across."""
    photo, index = false_face
    image = cv2.imread(str(shared_dir / "datasets" / "scenes-ilc" / "images" / f"{photo}.jpg"))
    x, y, w, h = REVIEW["not_faces"][photo][index]
    cx, cy, width = x + w / 2, y + h / 2, w * times
    x0, y0 = int(max(0, cx - width / 2)), int(max(0, cy - width * 0.375))
    x1, y1 = int(min(image.shape[1], cx + width / 2)), int(min(image.shape[0], cy + width * 0.375))
    return cv2.resize(image[y0:y1, x0:x1], (640, 480), interpolation=cv2.INTER_LINEAR)


def run(detector, classifier, frames, db, **tracker) -> tuple[dict, list]:
    """edge-run's pipeline with its [tracker] defaults (changed by ``tracker``) on ``frames``, then a clean stop."""
    settings = dataclasses.asdict(dataclasses.replace(configs.TrackerConfig(), **tracker))
    store = CountStore(db)
    seen = []
    pipeline = Pipeline(detector, classifier, **settings, **configs.SpeedConfig().settings("yunet"))
    for frame in frames:
        result = pipeline.process(frame)
        record(store, result.counted)
        seen += [face.label for face in result.faces]
    record(store, pipeline.finish())
    store.flush(force=True)
    totals = store.totals()
    store.close()
    return totals, seen


def test_a_static_false_face_on_the_wall_is_never_counted(shared_dir, detector, classifier, tmp_path):
    wall = around(shared_dir, ORNAMENT, 8)
    frames = [wall] * 90  # three seconds of an empty doorway with a bauble in view
    unchecked, seen = run(detector, classifier, frames, tmp_path / "unchecked.db", face_score=0.0)
    assert seen and unchecked  # YuNet finds it on every frame, and without the check it is a person
    totals, _ = run(detector, classifier, frames, tmp_path / "counts.db")
    assert totals == {}


def test_a_back_of_head_is_not_counted_unmasked_and_the_not_judged_count_reaches_the_db_and_report(
        shared_dir, detector, classifier, tmp_path, capsys):
    # the camera closing in on the man's head over a second
    frames = [around(shared_dir, BACK_OF_HEAD, times) for times in np.linspace(6, 4, 30)]
    unturned, _ = run(detector, classifier, frames, tmp_path / "unturned.db", max_turn=10.0)
    assert unturned == {"without_mask": 1}  # judged on a head's back, the model says unmasked
    db = tmp_path / "counts.db"
    totals, _ = run(detector, classifier, frames, db)
    assert totals == {"not_judged": 1}
    assert report.main(["--db", str(db), "--by", "day"]) == 0
    header, row = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()][-2:]
    cells = dict(zip(header, row, strict=False))
    assert cells["not_judged"] == "1" and cells["total"] == "1"
    assert row[-3] == "n/a"  # compliance is over the people judged: nobody was (passers-by and leaving follow it)


def test_the_scene_evaluator_counts_as_edge_run_does_face_check_included(shared_dir, face_models, mask_images,
                                                                          tmp_path):
    """Two photos: a boxed unmasked face, and the bauble with nothing boxed. Without the face check the bauble
    is a detection matching no box; with it, it is turned down and the face is still found and flagged."""
    from train.evaluate_scenes import main as evaluate_scenes

    data = tmp_path / "scenes"
    write_scene(data, "face", [(unmasked_face(mask_images, 3), (300, 200))], [("without_mask", (320, 210, 480, 390))])
    cv2.imwrite(str(data / "images" / "wall.png"), around(shared_dir, ORNAMENT, 8))
    (data / "annotations" / "wall.xml").write_text("<annotation></annotation>")
    results = {}
    for name, flags in (("checked", []), ("unchecked", ["--no-face-check"])):
        assert evaluate_scenes(["--model", "default", "--data", str(data), "--all", "--detector", "yunet",
                                "--detector-dir", str(face_models), "--out", str(tmp_path / name), *flags]) == 0
        results[name] = json.loads((tmp_path / name / "scenes.json").read_text())
    for result in results.values():
        assert result["violations"] == {"faces": 1, "found": 1, "flagged": 1}
    assert results["unchecked"]["unmatched_detections"] == 1
    assert results["checked"]["unmatched_detections"] == 0
    assert results["checked"]["turned_down_by_face_check"] == 1
