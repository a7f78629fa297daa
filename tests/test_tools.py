"""The benchmark scripts run end to end on small inputs (their figures come from `make`)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO


def script(*args, timeout=600):
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_soak_reports_memory_gaps_and_counts(tmp_path, walk_video, face_models):
    clip = tmp_path / "door.avi"
    walk_video(clip, 60, step=8)
    out = tmp_path / "soak.json"
    result = script("-m", "edge.cli.bench", "--soak", clip, "--frames", 150, "--people-per-loop", 1,
                    "--detector", "yunet", "--detector-dir", face_models, "--json", out)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures["frames"] == 150 and figures["loops"] == 2.5
    assert figures["people_counted"] == 3 and figures["people_shown"] == 2  # the third walk was half done
    assert 0 < figures["rss_start_mb"] <= figures["rss_peak_mb"] and figures["longest_gap_ms"] > 0


@pytest.mark.parametrize("given, said", [
    (["--run", "{tmp}/m128"], "no trained model at"),
    (["--weights", "{tmp}/none.h5"], "no backbone weights at"),
    (["--peer", "aizoo={tmp}/none.tflite"], "no peer detector at"),
])
def test_bench_compare_refuses_a_missing_input_in_one_line_before_any_work(tmp_path, face_models, backbone_weights,
                                                                              given, said):
    args = {"--weights": str(backbone_weights)}
    args.update(zip(given[::2], (value.format(tmp=tmp_path) for value in given[1::2]), strict=True))
    result = script("tools/bench_compare.py", "--detector-dir", face_models, *(x for kv in args.items() for x in kv))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert said in result.stderr


@pytest.mark.tf
def test_bench_compare_needs_no_training_run_and_times_the_peer_on_the_same_frames(
        tmp_path, backbone_weights, face_models, walk_video, shared_dir):
    """A fresh clone: the recipe's float model from the shared backbone, the AIZOO peer beside it."""
    pytest.importorskip("tensorflow")
    clip = tmp_path / "door.avi"
    walk_video(clip, 40, step=10)
    out = tmp_path / "bench-compare.json"
    peer = shared_dir / "models" / "peers" / "aizoo" / "face_mask_detection.tflite"
    result = script("tools/bench_compare.py", "--weights", backbone_weights, "--detector-dir", face_models,
                    "--peer", f"aizoo={peer}", "--frames", 3, "--clip", clip, "--loops", 1, "--out", out)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    for key in ("reference_fps", "default_fps", "exact_fps", "aizoo_fps", "ratio_default", "ratio_exact"):
        assert figures[key] > 0, key
    assert figures["ratio_exact"] == pytest.approx(figures["exact_fps"] / figures["reference_fps"], rel=0.01)
    assert figures["ratio_exact_vs_aizoo"] == pytest.approx(figures["exact_fps"] / figures["aizoo_fps"], rel=0.01)
    assert "untrained head" in figures["settings"]["reference_weights"]
    assert figures["counts"]["default"] == figures["counts"]["exact"]


@pytest.mark.tf
def test_bench_compare_runs_a_training_runs_weights_when_given(tmp_path, run_dir, backbone_weights, face_models):
    out = tmp_path / "bench-compare.json"
    result = script("tools/bench_compare.py", "--weights", backbone_weights, "--run", run_dir,
                    "--detector-dir", face_models, "--frames", 2, "--out", out)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures["settings"]["reference_weights"].endswith("model.keras") and "aizoo_fps" not in figures


def test_walkthrough_counts_boxed_photos_against_their_boxes(tmp_path, mask_images, face_models):
    """Two photos made here, each of one real face on a wall, boxed by hand: one counted right each."""
    import cv2
    from conftest import unmasked_face

    from edge.images import read_image
    from train.split import held_out

    data = tmp_path / "scenes"
    (data / "images").mkdir(parents=True)
    (data / "annotations").mkdir()
    masked = cv2.resize(read_image(sorted((mask_images / "with_mask").glob("*.jpg"))[1]).bgr, (200, 200))
    names = [f"photo{i}" for i in range(100) if held_out(f"photo{i}")][:2]
    for name, (face, label) in zip(names, [(unmasked_face(mask_images, 3), "without_mask"), (masked, "with_mask")],
                                   strict=True):
        photo = np.full((600, 800, 3), 90, np.uint8)
        photo[200:400, 300:500] = face
        cv2.imwrite(str(data / "images" / f"{name}.jpg"), photo)
        (data / "annotations" / f"{name}.xml").write_text(
            f"<annotation><object><name>{label}</name><bndbox><xmin>320</xmin><ymin>210</ymin><xmax>480</xmax>"
            "<ymax>390</ymax></bndbox></object></annotation>")
    out = tmp_path / "w.json"
    result = script("-m", "train.walkthrough", "--data", data, "--detector-dir", face_models,
                    "--setting", "every-frame",
                    "--json", out, "--png", tmp_path / "w.png")
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(out.read_text())["runs"]
    # the shipped model has three labels: nobody here wears a mask wrong
    assert run["clips"] == 2 and run["countable"] == {"with_mask": 1, "without_mask": 1, "mask_incorrect": 0}
    assert run["counted_right"] == {"with_mask": 1, "without_mask": 1, "mask_incorrect": 0}
    assert run["extra_per_clip"] == 0 and run["exactly_right"] == 1.0
    assert [clip["counted"] for clip in run["per_clip"]] == [{"without_mask": 1}, {"with_mask": 1}]


def test_walkthrough_clips_of_people_the_door_must_not_count(tmp_path, face_models, face):
    """One photo of a real face: the camera panning across it far away, the walk-up played backwards and the face
    held on the frame's edge count nobody; walking away is recorded as leaving; a PNG per kind."""
    import cv2

    from train.split import held_out

    data = tmp_path / "scenes"
    (data / "images").mkdir(parents=True)
    (data / "annotations").mkdir()
    name = next(f"photo{i}" for i in range(100) if held_out(f"photo{i}"))
    photo = np.full((1200, 1600, 3), 90, np.uint8)
    photo[500:700, 700:900] = face
    cv2.imwrite(str(data / "images" / f"{name}.jpg"), photo)
    (data / "annotations" / f"{name}.xml").write_text(
        "<annotation><object><name>without_mask</name><bndbox><xmin>720</xmin><ymin>510</ymin><xmax>880</xmax>"
        "<ymax>690</ymax></bndbox></object></annotation>")
    out = tmp_path / "w.json"
    result = script("-m", "train.walkthrough", "--data", data, "--detector-dir", face_models, "--setting", "preset",
                    "--kind", "walk-up", "walk-by", "walk-away", "edge", "--json", out, "--png", tmp_path / "w.png")
    assert result.returncode == 0, result.stderr
    runs = {run["kind"]: run for run in json.loads(out.read_text())["runs"]}
    assert runs["walk-up"]["counted_right"]["without_mask"] == 1
    for kind in ("walk-by", "walk-away", "edge"):
        assert runs[kind]["clips"] == 1 and runs[kind]["nobody_counted"] == 1.0, runs[kind]
        assert runs[kind]["people_per_clip"] == 0
    assert runs["walk-away"]["recorded"] == {"leaving": 1}
    assert not list(tmp_path.glob("w*.png"))  # no clip counted wrong: no worst clips to show


def test_walkthrough_at_night_runs_the_device_on_grey_frames(mask_images, face_models):
    """The night camera's clip reaches the pipeline grey, and the real face on it is still found and counted."""
    from conftest import unmasked_face

    from edge import config as configs
    from edge.runtime import load_models, pipeline_for
    from train.walkthrough import run_clip

    photo = np.full((600, 800, 3), (40, 120, 200), np.uint8)  # an orange wall
    photo[200:400, 300:500] = unmasked_face(mask_images, 3)
    config = configs.from_dict({"detector": {"name": "yunet", "model_dir": str(face_models), "threads": 1},
                                "speed": {"preset": "exact"}})
    models = load_models(config)
    faces = [("without_mask", np.array([320.0, 210.0, 160.0, 180.0]))]
    for night in (False, True):
        pipeline = pipeline_for(config, models)
        clip = run_clip(pipeline, photo, "p", faces, keep=True, night=night)
        assert (np.ptp(clip.last_frame.astype(int), axis=-1).max() == 0) == night
        assert clip.counted == {"without_mask": 1} and clip.people[0][2] == 0


def test_walkthrough_judges_person_by_person():
    """A person is matched to the face they were: the wrong label on one face is not made good by an extra
    person with that label elsewhere; a face counted twice is an extra; a reviewed unboxed face is not."""
    from train.walkthrough import Clip

    labels = ["with_mask", "without_mask", "mask_incorrect"]
    # the faces' own boxes are (100, 100, 50, 60) and (300, 100, 50, 60); matches() gave each person's index
    people = [("without_mask", [102, 98, 48, 62], 0, 0.9),  # face 0 (with_mask) counted unmasked
              ("with_mask", [600, 400, 40, 40], None, 0.8),  # nowhere near a boxed face: a false face
              ("without_mask", [301, 102, 50, 58], 1, 0.9), ("without_mask", [299, 100, 52, 60], 1, 0.9),  # twice
              ("with_mask", [800, 100, 40, 50], None, 0.9),  # a face the annotators did not box
              ("not_judged", [1000, 300, 40, 40], None, 0.7)]  # a false face, but not counted as a label
    clip = Clip("p", ["with_mask", "without_mask"], [60.0, 60.0], {}, people)
    judged = clip.judge(labels, 40, unboxed=[[805, 95, 36, 52]], false_faces=[[598, 402, 44, 38]])
    assert judged["right"] == {"with_mask": 0, "without_mask": 1, "mask_incorrect": 0}
    assert judged["extra"] == 3 and judged["extra_not_judged"] == 1
    assert judged["unboxed"] == 1 and judged["false_faces"] == 1
    assert judged["confusion"] == {"with_mask": {"without_mask": 1}, "without_mask": {"without_mask": 1}}
    assert not judged["exact"]
    # a face too small to be required may be left not judged, but a label it was not is a wrong count
    small = Clip("s", ["with_mask", "without_mask"], [20.0, 20.0], {},
                 [("not_judged", [100, 100, 50, 60], 0, 0.8), ("with_mask", [300, 100, 50, 60], 1, 0.8)])
    assert small.judge(labels, 40)["need"] == {"with_mask": 0, "without_mask": 0, "mask_incorrect": 0}
    assert small.judge(labels, 40)["exact"] is False
    small.people.pop()
    assert small.judge(labels, 40)["exact"] is True


def test_negatives_mines_the_detectors_false_faces_and_writes_the_reviewed_ones_as_not_face(tmp_path, shared_dir,
                                                                                             face_models):
    """A real scenes-ilc photo on which YuNet, closing in on the boxed face, takes two other things for faces
    (the review, train/reviewed/negatives-review.json, found both no face): mined as candidates, then written
    back as
    ``not_face`` boxes that training reads as samples of that label, the boxed face kept."""
    import shutil

    from edge.crops import iou_matrix
    from train.dataset import list_samples, voc_faces

    photo = "73c0d5efa79ca21939e646835b697573"
    source, data = shared_dir / "datasets" / "scenes-ilc", tmp_path / "scenes"
    for folder, suffix in (("images", "jpg"), ("annotations", "xml")):
        (data / folder).mkdir(parents=True)
        shutil.copy(source / folder / f"{photo}.{suffix}", data / folder)
    mined = script("-m", "train.negatives", "mine", "--data", data, "--detector-dir", face_models,
                   "--out", tmp_path / "m")
    assert mined.returncode == 0, mined.stderr
    candidates = json.loads((tmp_path / "m" / "candidates.json").read_text())
    reviewed = json.loads((REPO / "train" / "reviewed" / "negatives-review.json").read_text())["not_faces"][photo]
    assert len(candidates) == 2 and (tmp_path / "m" / "sheet-00.png").is_file()
    overlap = iou_matrix(np.array([c["box"] for c in candidates], float), np.array(reviewed, float))
    assert (overlap.max(axis=0) > 0.8).all()  # each reviewed false face is one of the candidates
    out = tmp_path / "scenes-ilc"
    written = script("-m", "train.negatives", "write", "--data", data, "--out", out)
    assert written.returncode == 0, written.stderr
    faces = voc_faces(out / "annotations" / f"{photo}.xml")
    assert [label for label, _ in faces] == [label for label, _ in voc_faces(data / "annotations" / f"{photo}.xml")] \
        + ["not_face", "not_face"]
    samples = list_samples([out], ["with_mask", "without_mask", "mask_incorrect", "not_face"])
    assert sum(s.label == 3 for s in samples) == 2 and all(s.path.is_file() for s in samples)
