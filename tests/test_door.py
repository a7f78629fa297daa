"""The door ([door], edge.door): who in the picture is a person of this door. The real pipeline (YuNet, the
shipped int8 model) on frames made from real faces; real SQLite, edge-report and MQTT messages."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import unmasked_face

from edge import config as configs
from edge.cli.report import main as edge_report
from edge.counts import CountStore
from edge.door import EDGE, Door, cut, inside
from edge.mqtt import messages
from edge.policy import LEAVING, PASSER_BY, Policy, countable
from edge.runner import record
from edge.runtime import door_for, load_models, pipeline_for
from edge.view.status import PROPOSE_AFTER, door_status, today

REPO = Path(__file__).resolve().parents[1]
WALL = 80
FRAME = (480, 640)


def scene(face, side: int, centre: tuple[float, float]) -> np.ndarray:
    """A 640x480 frame of a wall with ``face`` pasted ``side`` px large at ``centre`` (it may run off the frame)."""
    frame = np.full((*FRAME, 3), WALL, np.uint8)
    pasted = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA if side < face.shape[0] else cv2.INTER_LINEAR)
    x0, y0 = int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2))
    fx0, fy0 = max(0, -x0), max(0, -y0)
    x1, y1 = min(FRAME[1], x0 + side), min(FRAME[0], y0 + side)
    frame[max(0, y0):y1, max(0, x0):x1] = pasted[fy0:fy0 + y1 - max(0, y0), fx0:fx0 + x1 - max(0, x0)]
    return frame


def walk(face, sides, centres, gap: int = 15) -> list[np.ndarray]:
    """One person: a frame per (side, centre), then empty frames so their track ends."""
    return [scene(face, int(s), c) for s, c in zip(sides, centres, strict=True)] + \
        [np.full((*FRAME, 3), WALL, np.uint8)] * gap


@pytest.fixture(scope="module")
def person(mask_images):
    return unmasked_face(mask_images, 3)


@pytest.fixture(scope="module")
def models(face_models):
    return load_models(configs.from_dict({"detector": {"name": "yunet", "model_dir": str(face_models)}}))


def counted(models, frames, exact: bool = True, **door) -> tuple[dict[str, int], list]:
    """Run ``frames`` through edge-run's pipeline for a config with ``[door]`` keys ``door``: what the counts
    database holds (through the runner's own ``record``), and every frame's result."""
    config = configs.from_dict({"door": door})
    pipeline = pipeline_for(config, models, exact=exact)
    store = CountStore(":memory:")
    results = []
    for frame in frames:
        results.append(pipeline.process(frame))
        record(store, results[-1].counted)
    record(store, pipeline.finish())
    return store.totals(), results


def test_the_door_defaults_to_the_whole_frame_at_the_size_the_model_is_accurate_from(models):
    door = door_for(configs.RunConfig(), models)
    # the shipped int8 model is measured accurate (95% and up, every label pooled) from 48 px faces
    assert door == Door(None, 48.0, "entering")
    given = door_for(configs.from_dict({"door": {"count_px": 90, "count": "both",
                                                 "region": [[0.25, 0], [0.75, 0], [0.75, 1], [0.25, 1]]}}), models)
    assert given.count_px == 90 and given.count == "both"
    assert given.polygon(640, 480).tolist() == [[160, 0], [480, 0], [480, 480], [160, 480]]


def test_a_passer_by_far_behind_or_beside_the_door_is_never_counted(models, person):
    """Someone crossing behind (a 68 px face, a door's count_px 100), and someone crossing close by but outside
    the counting region: found on their frames, recorded as passers-by, never counted, never an alert; someone
    walking up to the door in the region is counted."""
    across = [(50 + 13 * i, 200) for i in range(40)]
    far = walk(person, [70] * 40, across)
    totals, results = counted(models, far, count_px=100)
    assert sum(bool(r.faces) for r in results) >= 30  # YuNet finds the face on most frames
    assert totals == {PASSER_BY: 1}
    assert not any(r.people for r in results)
    middle = {"region": [[0.3, 0], [0.7, 0], [0.7, 1], [0.3, 1]]}
    beside = walk(person, np.linspace(100, 160, 30), [(90, 240)] * 30)  # walking up, at the frame's left
    assert counted(models, beside, **middle)[0] == {PASSER_BY: 1}
    at_door = walk(person, np.linspace(100, 160, 30), [(320, 240)] * 30)
    assert counted(models, at_door, **middle)[0] == {"without_mask": 1}


def test_a_face_that_only_shrinks_is_leaving_counted_only_with_both(models, person):
    """A frontal face walking away (shrinking from 220 to 90 px): not a person coming in; with count = "both" a
    person, but not judged, since it came only walking away. The same face walking up is counted either way."""
    away = walk(person, np.linspace(220, 90, 30), [(320, 240)] * 30)
    assert counted(models, away)[0] == {LEAVING: 1}
    assert counted(models, away, count="both")[0] == {"not_judged": 1}
    up = walk(person, np.linspace(90, 220, 30), [(320, 240)] * 30)
    for mode in ("entering", "both"):
        totals, results = counted(models, up, count=mode)
        assert totals == {"without_mask": 1}
        assert any(r.people for r in results[:30])  # counted while in view: walking up, not only as it left


def test_a_face_cut_by_the_frames_edge_is_not_judged_until_wholly_in_view(models, person):
    """Stepping in from the left edge: while the frame cuts the face nothing is judged on it; counted once it is
    wholly in view. A face that stays cut is never counted."""
    sides = np.linspace(150, 200, 40)
    xs = np.concatenate([np.linspace(-20, 60, 12), np.linspace(110, 130, 28)])  # cut for the first 12 frames
    frames = walk(person, sides, [(x, 240) for x in xs])
    config = configs.from_dict({})
    pipeline = pipeline_for(config, models, exact=True)
    judgeable = []
    for frame in frames[:12]:
        result = pipeline.process(frame)
        assert not result.counted
        assert all(cut([face.box], 640, 480)[0] for face in result.faces)
        judgeable += [track.judgeable for track in pipeline.tracker.tracks]
    assert judgeable and max(judgeable) == 0  # found, but not one frame judged
    people = [p for frame in frames[12:] for p in pipeline.process(frame).people] + pipeline.finish()
    assert [p.label for p in people] == ["without_mask"]
    stays_cut = walk(person, sides, [(20, 240)] * 40)  # its centre 20 px from the left edge
    totals, results = counted(models, stays_cut)
    assert sum(bool(r.faces) for r in results) >= 20 and totals == {PASSER_BY: 1}


def test_a_close_up_whose_box_runs_above_the_frame_is_judged_when_its_eyes_are_in_it(models, shared_dir):
    """A held-out photo's walk-up clip: a child's bare face filling the frame, which YuNet boxes from above the
    frame's top (its forehead) to its chin. Its eyes and mask are in the picture: a person, judged."""
    from edge.images import read_image
    from train.dataset import voc_faces
    from train.walkthrough import run_clip

    scenes = shared_dir / "datasets" / "scenes-ilc"
    name = "c2f093da64359b60f049ace1733ad916"
    faces = [(label, np.array(box)) for label, box in voc_faces(scenes / "annotations" / f"{name}.xml")]
    pipeline = pipeline_for(configs.from_dict({}), models, exact=True)
    clip = run_clip(pipeline, read_image(scenes / "images" / f"{name}.jpg").bgr, name, faces, keep=True)
    (face,) = clip.last_faces
    assert face.box[1] <= EDGE * 480 and clip.counted == {"without_mask": 1}  # its box touches the top


def test_geometry_of_a_face_cut_by_the_top_edge():
    whole, hairline, half, small = [100, -8, 340, 437], [100, -20, 300, 260], [100, 0, 300, 240], [100, 0, 90, 90]
    # a close-up with its eyes in the picture: no cut; eyes unknown (a detector without landmarks) or at the edge,
    # or a face too small for a close-up: cut
    assert cut([whole, hairline, half, small], 640, 480, [170, np.nan, 3, 30]).tolist() == [False, True, True, True]
    assert cut([whole], 640, 480).tolist() == [True]
    assert cut([[0, 100, 200, 200]], 640, 480, [150]).tolist() == [True]  # the left edge cuts it, eyes or not


@pytest.mark.parametrize("detector", ["maskwatch", "yunet"])
def test_the_fast_path_counts_the_door_as_every_frame_detection_does(detector, face_models, person):
    """Each door scene through the default (fast) settings and through detection on every frame, whole frames."""
    models = load_models(configs.from_dict({"detector": {"name": detector, "model_dir": str(face_models)}}))
    scenes = [walk(person, [70] * 40, [(50 + 13 * i, 200) for i in range(40)]),
              walk(person, np.linspace(220, 90, 30), [(320, 240)] * 30),
              walk(person, np.linspace(90, 220, 30), [(320, 240)] * 30),
              walk(person, np.linspace(150, 200, 40), [(20, 240)] * 40)]
    frames = [frame for clip in scenes for frame in clip]
    exact, _ = counted(models, frames, exact=True, count_px=100)
    fast, _ = counted(models, frames, exact=False, count_px=100)
    assert fast == exact == {PASSER_BY: 2, LEAVING: 1, "without_mask": 1}


def test_geometry_of_the_door():
    concave = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.5, 0.2), (0.1, 0.9)]  # a notch up from the bottom
    assert inside([[0.5, 0.5], [0.5, 0.15], [0.2, 0.5], [2, 2]], concave).tolist() == [False, True, True, False]
    assert cut([[0, 10, 20, 20], [10, 10, 20, 20], [600, 100, 45, 40], [300, 460, 30, 30]], 640, 480).tolist() == \
        [True, False, True, True]
    door = Door(((0.25, 0.0), (0.75, 0.0), (0.75, 1.0), (0.25, 1.0)), 48.0)
    # (cut, at the door): in the region and large enough; too small; outside; large but cut
    evidence = door.evidence([[300, 200, 60, 70], [300, 200, 30, 30], [20, 200, 60, 70], [300, 430, 60, 60]],
                             640, 480)
    assert evidence.tolist() == [[0, 1], [0, 0], [0, 0], [1, 0]]


@pytest.mark.parametrize("region, says", [
    ("[[0, 0], [1, 0]]", "[door] region has 2 entries; it must have 3 to 64"),
    ("[[0, 0], [1.5, 0], [1, 1]]", "[door] region[1] is [1.5, 0.0]; each point is [x, y], both from 0 to 1"),
    ("[[0, 0], [1, 1], [1, 0], [0, 1]]", "[door] region crosses itself: its side from region[0] to region[1] meets "
                                         "the side from region[2] to region[3]"),
    ("[[0, 0], [0.5, 0], [1, 0]]", "[door] region crosses itself"),
])
def test_an_impossible_region_is_one_line_naming_the_key(tmp_path, region, says):
    path = tmp_path / "door.toml"
    path.write_text(f"[door]\nregion = {region}\n")
    result = subprocess.run([sys.executable, "-m", "edge.cli.run", "--config", str(path), "--print-config"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr, result.stderr
    flag = subprocess.run([sys.executable, "-m", "edge.cli.run", "--door-region", region, "--print-config"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert flag.returncode == 1 and len(flag.stderr.strip().splitlines()) == 1
    assert says.split("region", 1)[1] in flag.stderr and "region" in flag.stderr, flag.stderr


def test_a_region_given_as_a_flag_is_printed_back_as_the_file_holds_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "edge.cli.run", "--door-region", "[[0.2, 0], [0.8, 0], [0.5, 1]]",
                             "--count-px", "80", "--door-count", "both", "--print-config"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "printed.toml"
    path.write_text(result.stdout)
    door = configs.load(path).door
    assert door.region == [[0.2, 0.0], [0.8, 0.0], [0.5, 1.0]] and door.count_px == 80 and door.count == "both"


def test_passers_by_and_people_leaving_reach_the_db_report_mqtt_and_view_but_no_total_or_compliance(tmp_path,
                                                                                                  capsys):
    db = tmp_path / "counts.db"
    store = CountStore(db)
    for label in ("with_mask", "without_mask", PASSER_BY, PASSER_BY, LEAVING):
        store.add(label, 0.9, 12)
    store.close()
    policy = Policy({"with_mask": "ok", "without_mask": "violation"})
    assert edge_report(["--db", str(db), "--by", "day", "--csv", str(tmp_path / "days.csv")]) == 0
    capsys.readouterr()
    header, row = [line.split(",") for line in (tmp_path / "days.csv").read_text().splitlines()]
    cells = dict(zip(header, row, strict=True))
    assert cells["total"] == "2" and cells["compliance_percent"] == "50.0"
    assert cells["passer_by"] == "2" and cells["leaving"] == "1"
    labels = countable(["with_mask", "without_mask"])
    counts = {"with_mask": 1, "without_mask": 1, PASSER_BY: 2, LEAVING: 1}
    state = messages.state("2026-12-07", counts, labels, policy, 10.0, [], None, "m")
    assert state["today"][PASSER_BY] == 2 and state["today"][LEAVING] == 1 and state["compliance"] == 50.0
    event = json.loads(messages.event("door", (3, 1.0, PASSER_BY, 0.9, 12, None), policy, "m"))
    assert event["label"] == PASSER_BY and event["person"] is False and event["violation"] is False
    assert json.loads(messages.event("door", (1, 1.0, "without_mask", 0.9, 12, None), policy, "m"))["person"]
    sensors = messages.discovery("maskwatch", "door", labels, "1")
    assert {config["name"] for config in sensors.values()} >= {"passers by today", "leaving today"}
    shown = today([(1.0, label) for label, n in counts.items() for _ in range(n)], policy, labels)
    assert shown["people"] == 2 and shown["compliance"] == 50.0 and shown["counts"][PASSER_BY] == 2


def test_the_aiming_aid_proposes_the_face_size_people_reach_at_the_door():
    door = Door(None, 48.0)
    assert door_status(door, [150, 160], 48)["proposed_count_px"] is None  # too few people yet
    status = door_status(door, [150, 160, 170, 200, 40], 48)  # four walked up, one crossed far behind
    assert status["proposed_count_px"] == round(0.8 * 160) and status["count_px"] == 48
    assert "count_px = 128" in status["hint"] and "now 48" in status["hint"]
    small = door_status(door, [40, 45, 50] * PROPOSE_AFTER, 64)
    assert small["proposed_count_px"] == 36 and "move the camera closer" in small["hint"]
