"""Scene sets: faces cut with their boxes, split with their photo, trained on, and the scene evaluator."""

import csv
import dataclasses
import json

import cv2
import numpy as np
import pytest
from conftest import masked_face, unmasked_face, write_scene

from edge.crops import CropRule, crop_face
from edge.images import read_image
from train.dataset import DatasetError, list_samples, resolve_labels
from train.faces import PrepConfig, prepare
from train.split import held_out

LABELS = ["with_mask", "without_mask", "mask_incorrect"]


def test_scene_faces_are_cut_with_their_boxes_under_canonical_labels(small_dataset, small_scenes, face_models):
    assert resolve_labels([small_dataset, small_scenes], None) == sorted(LABELS)  # with_incorrect_mask renamed
    samples = list_samples([small_dataset, small_scenes], LABELS, min_face=12)
    boxed = [s for s in samples if s.box is not None]
    assert boxed and {s.source for s in boxed} == {"scenes"} and all(min(s.box[2:]) >= 12 for s in boxed)
    assert {LABELS[s.label] for s in boxed} == set(LABELS)
    assert all(s.relpath.startswith(("scenes/images/", f"{small_dataset.name}/")) for s in samples)
    prepared = prepare(samples, PrepConfig(size=64, detector="yunet", detector_dir=str(face_models)), None,
                       progress=False)
    record = next(r for r in prepared.records if r.get("status") == "box")
    sample = next(s for s in samples if s.relpath == record["relpath"])
    expected = crop_face(read_image(sample.path).bgr, sample.box, CropRule(0.2, True), 64)
    assert np.array_equal(prepared.crops[record["index"]], expected)
    assert record["face_px"] == int(min(sample.box[2:]))


def test_a_boxed_face_the_detector_finds_is_also_cut_where_the_detector_puts_it(tmp_path, mask_images, face_models):
    """A photo with an unmasked and a masked face, each boxed as a person would (tighter than the detector's
    box, and off it), and a box on the bare wall. The two faces get a second crop cut with the detector's
    box under their own box's label; the wall gets none, and nothing changes without the option."""
    from edge.crops import iou_matrix
    from edge.detectors import create_detector

    data = tmp_path / "scenes"
    write_scene(data, "a", [(unmasked_face(mask_images, 3), (60, 200)), (masked_face(mask_images, 1), (480, 200))],
                [("without_mask", (90, 240, 230, 400)), ("with_mask", (500, 220, 660, 380)),
                 ("without_mask", (300, 20, 420, 140))])
    samples = list_samples([data], LABELS)
    config = PrepConfig(size=64, detector="yunet", detector_dir=str(face_models))
    assert [r["status"] for r in prepare(samples, config, None, progress=False).records] == ["box"] * 3
    prepared = prepare(samples, dataclasses.replace(config, detector_views=True), None, progress=False)
    views = [r for r in prepared.records if r["status"] == "detected"]
    assert [(r["relpath"], r["label"]) for r in views] == [("images/a.jpg#0@detector", LABELS.index("without_mask")),
                                                           ("images/a.jpg#1@detector", LABELS.index("with_mask"))]
    photo = read_image(data / "images" / "a.jpg").bgr
    found = create_detector("yunet", face_models).detect(photo)[:, :4]
    for view, sample in zip(views, samples, strict=False):
        assert view["box"] != list(sample.box)  # the detector's box, not the annotator's
        assert iou_matrix(np.array([view["box"]]), found).max() > 0.99
        assert np.array_equal(prepared.crops[view["index"]], crop_face(photo, view["box"], CropRule(0.2, True), 64))
        assert view["face_px"] == int(min(view["box"][2:]))


@pytest.mark.parametrize("mode, trains", [("boxes", {"a#0", "b#0"}), ("both", {"a#0", "a#0@detector", "b#0"}),
                                           ("detector", {"a#0@detector", "b#0"})])
def test_the_detectors_cut_of_a_face_trains_and_is_never_scored(mode, trains):
    from train.training import keep_scene_crops

    records = [{"relpath": name, "status": "detected" if name.endswith("@detector") else "box", "split": split}
               for name, split in (("a#0", "train"), ("a#0@detector", "train"), ("b#0", "train"),
                                   ("c#0", "test"), ("c#0@detector", "test"), ("d#0", "val"), ("d#0@detector", "val"))]
    if mode == "boxes":
        records = [r for r in records if r["status"] == "box"]  # prepare cuts no views
    keep_scene_crops(records, mode)
    assert {r["relpath"] for r in records if r.get("split") == "train"} == trains
    assert {r["relpath"]: r["split"] for r in records if r.get("split") in ("val", "test")} == {"c#0": "test",
                                                                                             "d#0": "val"}


def test_a_class_no_source_has_is_one_line(small_dataset):
    with pytest.raises(DatasetError, match="no source has the class mask_incorrect"):
        resolve_labels([small_dataset], LABELS)


def test_three_class_run_splits_by_photo_and_reports_each_source(run3_dir, small_dataset):
    contract = json.loads((run3_dir / "labels.json").read_text())
    assert contract["labels"] == LABELS and contract["violation_label"] == "without_mask"
    with open(run3_dir / "split.csv") as f:
        rows = list(csv.DictReader(f))
    scenes = [r for r in rows if r["source"] == "scenes"]
    views = [r for r in scenes if r["file"].endswith("@detector")]
    annotated = {r["file"]: r for r in scenes if r not in views}
    # the detector's cut of a face trains with it; every figure stays on the annotated boxes
    assert views and {r["split"] for r in views} == {"train"}
    assert all(annotated[r["file"].removesuffix("@detector")]["split"] == "train" for r in views)
    by_photo = {}
    for r in scenes:
        by_photo.setdefault(r["file"].split("#")[0], set()).add(r["split"])
        assert len(r["box"].split()) == 4
    assert all(len(splits) == 1 for splits in by_photo.values())  # a photo's faces never straddle splits
    for photo, (split,) in by_photo.items():
        assert (split == "test") == held_out(photo.rsplit("/", 1)[1].rsplit(".", 1)[0])
    metrics = json.loads((run3_dir / "metrics.json").read_text())
    for key in ("test", f"test:{small_dataset.name}", "test:scenes", "calibration"):
        assert key in metrics["splits"] and metrics[key]["n"] > 0, key
    assert metrics["test:scenes"]["n"] == sum(r["split"] == "test" for r in annotated.values())
    assert set(metrics["test"]["by_size"]) <= set(LABELS) and metrics["test"]["per_class"]["mask_incorrect"]["support"]
    assert metrics["threshold"]["chosen_on"] == str(small_dataset)
    report = (run3_dir / "report.md").read_text()
    assert "Recall by face size" in report and "test:scenes" in report and "mask_incorrect recall" in report


def test_export_reads_a_multi_source_run_back(bundle3):
    manifest = json.loads((bundle3 / "manifest.json").read_text())
    assert manifest["data"]["test_images"] > 0 and manifest["labels"] == LABELS
    # recall by face size on the test split, for the live view's aiming aid
    for artifact in manifest["artifacts"]:
        sizes = artifact["metrics"]["by_size"]
        assert sum(cell["n"] for row in sizes.values() for cell in row.values()) == manifest["data"]["test_images"]


def test_edge_eval_scores_three_folders(tmp_path, bundle3, small_scenes, capsys):
    from edge.cli.eval import main as edge_eval
    from train.dataset import voc_faces

    for label in LABELS:
        (tmp_path / "crops" / label).mkdir(parents=True)
    for i, xml in enumerate(sorted((small_scenes / "annotations").glob("*.xml"))):
        image = cv2.imread(str(small_scenes / "images" / f"{xml.stem}.jpg"))
        for j, (label, (x, y, w, h)) in enumerate(voc_faces(xml)):
            cv2.imwrite(str(tmp_path / "crops" / label / f"{i}-{j}.png"), image[int(y):int(y + h), int(x):int(x + w)])
    assert edge_eval(["--model", str(bundle3), "--data", str(tmp_path / "crops"),
                      "--json", str(tmp_path / "e.json")]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["labels"] == LABELS and all(result["per_class"][label]["support"] > 0 for label in LABELS)
    assert "recall by face size" in capsys.readouterr().out


def test_scene_evaluator_on_photos_counted_by_hand(tmp_path, mask_images, face_models):
    """Three photos made here. A: an unmasked face boxed, a masked one beside it not boxed. B: a masked face
    boxed. C: a box drawn on the bare wall, so a face no detector can find. By hand: with_mask 1 of 1
    found, without_mask 1 of 2; one violation found and flagged; one alert, and it is right; one detection
    matching no box (A's masked face), and no masked face called a violation. D: an unmasked face the photo's
    left edge cuts, boxed: found and not judged (the door's rule: its mask may be out of the picture), no alert."""
    from edge.policy import NOT_JUDGED
    from train.evaluate_scenes import main as evaluate_scenes

    data = tmp_path / "scenes"
    unmasked, masked = unmasked_face(mask_images, 3), masked_face(mask_images, 1)
    write_scene(data, "a", [(unmasked, (60, 200)), (masked, (480, 200))],
                [("without_mask", (80, 210, 240, 390))])
    write_scene(data, "b", [(masked, (300, 200))], [("with_mask", (320, 210, 480, 390))])
    write_scene(data, "c", [], [("without_mask", (300, 200, 460, 380))])
    write_scene(data, "d", [(unmasked[:, 70:], (0, 200))], [("without_mask", (0, 210, 110, 390))])
    out = tmp_path / "out"
    assert evaluate_scenes(["--model", "default", "--data", str(data), "--all", "--detector", "yunet",
                            "--detector-dir", str(face_models), "--out", str(out)]) == 0
    result = json.loads((out / "scenes.json").read_text())
    assert result["photos"] == 4
    assert {k: (v["found"], v["faces"]) for k, v in result["detection"].items()} == {
        "with_mask": (1, 1), "without_mask": (2, 3)}
    assert result["classification"]["with_mask"]["recall"] == 1.0
    assert result["classification"]["without_mask"]["called"][NOT_JUDGED] == 1
    assert result["classification"]["without_mask"]["recall"] == 0.5  # D's face, found, is not judged
    assert result["violations"] == {"faces": 3, "found": 2, "flagged": 1}
    assert result["alerts"]["called"] == 1 and result["alerts"]["precision"] == 1.0
    assert result["unmatched_detections"] == 1 and result["masked_called_violation"] == 0.0
    assert (out / "scenes.png").stat().st_size > 10_000


def test_scene_evaluator_refuses_a_folder_set(tmp_path, small_dataset, capsys):
    from train.evaluate_scenes import main as evaluate_scenes

    assert evaluate_scenes(["--model", "default", "--data", str(small_dataset), "--out", str(tmp_path)]) == 2
    assert "is not a scene set: it needs images/ and annotations/" in capsys.readouterr().err


def test_a_run_is_given_a_new_threshold_without_training_again(run3_dir, small_dataset, tmp_path):
    import shutil

    from train.rethreshold import main as rethreshold

    run = tmp_path / "run"
    shutil.copytree(run3_dir, run)
    assert rethreshold(["--run", str(run), "--calibrate", str(small_dataset), "--max-false-alarms", "0",
                        "--cache", ""]) == 0
    contract = json.loads((run / "labels.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["threshold"]["threshold"] == contract["threshold"]
    assert metrics["threshold"]["rule"].startswith("lowest threshold calling at most 0.0%")
    # no masked face of the validation split or the calibration set is called a violation at it
    for name in ("val", "calibration"):
        assert metrics[name]["confusion"][0][1] == 0, name
    assert "calling at most 0.0%" in (run / "report.md").read_text()


def test_a_voc_file_without_a_box_is_one_line(tmp_path, capsys):
    from train.__main__ import main as train_main

    write_scene(tmp_path / "scenes", "a", [], [("with_mask", (10, 10, 50, 50))])
    (tmp_path / "scenes" / "annotations" / "b.xml").write_text("<annotation><object><name>with_mask</name>"
                                                              "</object></annotation>")
    assert train_main(["--data", str(tmp_path / "scenes"), "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.endswith("b.xml: object 0 needs a name and a bndbox of numeric xmin, ymin, "
                                            "xmax, ymax — fix or remove the file\n")


def test_measure_adds_recall_by_size_to_a_bundle_exported_without_it(tmp_path, bundle3, run3_dir, run_dir, capsys):
    import shutil

    from export.measure import main as measure

    older = tmp_path / "older"
    shutil.copytree(bundle3, older)
    manifest = json.loads((older / "manifest.json").read_text())
    expected = {a["file"]: a["metrics"].pop("by_size") for a in manifest["artifacts"]}
    (older / "manifest.json").write_text(json.dumps(manifest))
    assert measure([str(older), "--run", str(run3_dir), "--cache", ""]) == 0
    again = json.loads((older / "manifest.json").read_text())
    assert {a["file"]: a["metrics"]["by_size"] for a in again["artifacts"]} == expected
    assert [a["sha256"] for a in again["artifacts"]] == [a["sha256"] for a in manifest["artifacts"]]
    assert measure([str(older), "--run", str(run_dir), "--cache", ""]) == 1  # another run: refused
    assert "is not the run" in capsys.readouterr().err


def test_each_artifact_has_its_own_threshold_by_the_runs_rule(tmp_path, bundle3, run3_dir, small_dataset, capsys):
    """int8 rounding moves probabilities: every artifact's threshold is the run's rule applied to its own
    outputs, with the false-alarm rule never below the float model's (its bound holds for both)."""
    import shutil

    from edge import manifest as manifests
    from edge.classifiers import load_classifier
    from edge.cli.eval import main as edge_eval
    from edge.errors import ModelMismatchError
    from edge.scoring import choose_threshold, load_crops, threshold_for_false_alarms
    from export.artifact_thresholds import main as export_threshold
    from train.rethreshold import main as rethreshold
    from train.rundir import read_run, run_crops

    contract, config, rows = read_run(run3_dir)
    val_x, val_y = run_crops(contract, config, rows, None, None, "", splits=("val",))["val"]
    outside = load_crops(small_dataset, LABELS, contract["input_size"])
    exported = manifests.load(bundle3)
    own = {}
    for artifact in exported.artifacts:  # run3's rule: recall >= 0.9 on its calibration set
        classifier = load_classifier(bundle3, artifact.backend)
        own[artifact.file] = classifier.classify(val_x), classifier.classify(outside.pixels)
        floor = choose_threshold(outside.targets == 1, own[artifact.file][1][:, 1], 0.9)["threshold"]
        assert classifier.threshold == artifact.threshold == pytest.approx(floor)

    run, bundle = tmp_path / "run", tmp_path / "bundle"
    shutil.copytree(run3_dir, run)
    shutil.copytree(bundle3, bundle)
    assert rethreshold(["--run", str(run), "--calibrate", str(small_dataset), "--max-false-alarms", "0.05",
                        "--cache", ""]) == 0
    capsys.readouterr()
    # the gates are off: the bundle's float threshold came from another rule than the one applied now
    assert export_threshold([str(bundle), "--run", str(run), "--cache", "", "--max-drop", "100",
                             "--min-agreement", "0"]) == 0
    assert "sealed again (schema 4)" in capsys.readouterr().out
    again = manifests.load(bundle)
    for artifact in again.artifacts:
        on_val, on_outside = own[artifact.file]
        bound = threshold_for_false_alarms([on_val[val_y == 0, 1], on_outside[outside.targets == 0, 1]], 0.05)
        assert artifact.threshold == pytest.approx(max(exported.threshold, bound["threshold"]))
    int8 = again.artifact("litert-int8")
    assert edge_eval(["--model", str(bundle), "--backend", "litert-int8", "--data", str(small_dataset)]) == 0
    assert f"threshold {int8.threshold}" in capsys.readouterr().out

    edited = json.loads((bundle / "manifest.json").read_text())
    edited["artifacts"][0]["threshold"] = 0.123456  # a hand edit is found by the self-test's digest
    (bundle / "manifest.json").write_text(json.dumps(edited))
    with pytest.raises(ModelMismatchError, match="self-test"):
        load_classifier(bundle / edited["artifacts"][0]["file"])
