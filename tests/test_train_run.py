"""A short real training run on a small sample of ../shared, checked end to end."""

import csv
import json

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from edge.scoring import summarize  # noqa: E402
from train.__main__ import main as train_main  # noqa: E402
from train.dataset import Sample  # noqa: E402
from train.evaluate import main as evaluate_main  # noqa: E402
from train.faces import PrepConfig, prepare  # noqa: E402

OUTPUTS = ["model.keras", "labels.json", "split.csv", "ingest.csv", "config.json", "metrics.json",
           "report.md", "training_curves.png", "confusion_test.png", "roc_test.png",
           "classification_report_test.txt", "crop_examples.png"]


def test_run_writes_every_output_with_the_explicit_class_order(run_dir):
    for name in OUTPUTS:
        assert (run_dir / name).is_file(), f"{name} missing"
    contract = json.loads((run_dir / "labels.json").read_text())
    assert contract["labels"] == ["without_mask", "with_mask"]  # as given, not folder order
    assert contract["violation_label"] == "without_mask" and 0.0 < contract["threshold"] <= 1.0
    assert contract["crop"] == {"margin": 0.2, "square": True} and contract["input_size"] == 96
    config = json.loads((run_dir / "config.json").read_text())
    assert len(config["data_checksum"]) == 64 and config["args"]["seed"] == 1


def test_odd_files_are_converted_or_skipped_and_listed(run_dir):
    with open(run_dir / "ingest.csv") as f:
        rows = {row["file"]: row for row in csv.DictReader(f)}
    assert rows["without_mask/corrupt.jpg"]["status"] == "skipped"
    assert rows["without_mask/readme.txt"]["status"] == "skipped"
    assert "too small" in rows["without_mask/tiny.png"]["note"]
    assert rows["without_mask/gray.png"]["note"] == "converted from grayscale"
    assert rows["without_mask/alpha.png"]["note"] == "converted from rgba"
    report = (run_dir / "report.md").read_text()
    assert "without_mask/corrupt.jpg" in report and "Decision threshold" in report


def test_split_has_no_file_twice_and_every_class_everywhere(run_dir):
    with open(run_dir / "split.csv") as f:
        rows = list(csv.DictReader(f))
    assert len({r["file"] for r in rows}) == len(rows)
    for split in ("train", "val", "test"):
        assert {r["class"] for r in rows if r["split"] == split} == {"with_mask", "without_mask"}
    groups = {}
    for r in rows:
        groups.setdefault(r["group"], set()).add(r["split"])
    assert all(len(splits) == 1 for splits in groups.values())


def test_reported_test_metrics_match_a_recomputation_from_the_saved_model(
    run_dir, small_dataset, face_models
):
    import keras

    contract = json.loads((run_dir / "labels.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with open(run_dir / "split.csv") as f:
        test_rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    labels = contract["labels"]
    samples = [Sample(small_dataset / r["file"], labels.index(r["class"]), r["file"]) for r in test_rows]
    prepared = prepare(samples, PrepConfig(size=96, detector="yunet", detector_dir=str(face_models)),
                       progress=False)
    model = keras.models.load_model(run_dir / "model.keras")
    probabilities = model.predict(prepared.crops.astype(np.float32), verbose=0)
    y_true = [s.label for s in samples]
    expected = summarize(y_true, probabilities, labels, "without_mask", contract["threshold"])
    assert metrics["test"]["confusion"] == expected["confusion"]
    assert metrics["test"]["accuracy"] == pytest.approx(expected["accuracy"])
    # accuracy is what the confusion matrix says
    matrix = np.array(metrics["test"]["confusion"])
    assert metrics["test"]["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())


def test_evaluate_scores_a_saved_model_on_a_folder(run_dir, small_dataset, face_models, tmp_path):
    out = tmp_path / "eval"
    assert evaluate_main(["--model", str(run_dir / "model.keras"), "--data", str(small_dataset),
                          "--out", str(out), "--detector", "yunet", "--detector-dir", str(face_models),
                          "--cache", ""]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 60 + 2  # 30 per class, plus the converted grayscale and RGBA images
    assert (out / "confusion_eval.png").is_file() and (out / "roc_eval.png").is_file()
    assert any("corrupt.jpg" in s for s in metrics["skipped"])


def test_existing_run_folder_and_missing_data_are_one_line_errors(run_dir, tmp_path, capsys):
    assert train_main(["--data", str(tmp_path), "--out", str(run_dir)]) == 2
    assert "needs at least two class folders" in capsys.readouterr().err
    data = tmp_path / "d"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        cv2.imwrite(str(data / name / "x.png"), np.zeros((50, 50, 3), np.uint8))
    assert train_main(["--data", str(data), "--out", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and err.count("\n") == 1
    # a missing calibration set is named by its own flag (it was once reported as --data)
    assert train_main(["--data", str(data), "--out", str(tmp_path / "new"), "--calibrate", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert f"--calibrate {tmp_path / 'nope'} is not a folder" in err and "--data" not in err and err.count("\n") == 1


def test_a_narrow_net_keeps_the_wider_nets_most_used_channels_the_same_across_a_residual_stream(
        backbone_weights):
    import keras

    from train.prune import narrow_from

    shape = (96, 96, 3)
    wide = keras.applications.MobileNetV2(input_shape=shape, include_top=False, weights=str(backbone_weights))
    # Silence the first 32 of block 4's 192 expanded channels: nothing downstream reads them any more, so
    # the narrow net (144 there) must drop them, where the first channels would be the ones it kept.
    gamma, beta, mean, variance = wide.get_layer("block_4_depthwise_BN").get_weights()
    gamma[:32], beta[:32] = 0.0, 0.0
    wide.get_layer("block_4_depthwise_BN").set_weights([gamma, beta, mean, variance])
    narrow = keras.applications.MobileNetV2(input_shape=shape, alpha=0.75, include_top=False, weights=None)
    pixels = np.random.default_rng(0).uniform(-1, 1, (16, *shape)).astype(np.float32)
    narrow_from(narrow, wide, pixels)

    def kept(bn: str) -> np.ndarray:
        """Which of the wide layer's channels a narrow BatchNorm layer holds, found by their four statistics."""
        rows = np.stack(wide.get_layer(bn).get_weights(), axis=1)
        return np.array([np.flatnonzero((rows == row).all(axis=1))[0]
                         for row in np.stack(narrow.get_layer(bn).get_weights(), axis=1)])

    stem, expanded = kept("bn_Conv1"), kept("block_4_expand_BN")
    # ImageNet's stem has channels that never fire (ReLU6 gives 0): keeping 24 of 32, all that fire are kept
    stem_out = keras.Model(wide.input, wide.get_layer("expanded_conv_depthwise_relu").output).predict(pixels, verbose=0)
    fired = np.flatnonzero(stem_out.max(axis=(0, 1, 2)) > 0)
    assert len(set(stem)) == 24 and 16 <= len(fired) <= 24 and set(fired) <= set(stem)
    assert len(set(expanded)) == 144 and not set(expanded) & set(range(32))
    np.testing.assert_array_equal(narrow.get_layer("Conv1").get_weights()[0],
                                  wide.get_layer("Conv1").get_weights()[0][..., stem])
    np.testing.assert_array_equal(narrow.get_layer("block_4_depthwise").get_weights()[0],
                                  wide.get_layer("block_4_depthwise").get_weights()[0][:, :, expanded])
    # blocks 3 to 5 add into one stream: their projections, and block 6's expansion reading it, share its channels
    stream = kept("block_3_project_BN")
    assert len(set(stream)) == 24 and not np.array_equal(stream, np.arange(24))
    for block in (4, 5):
        np.testing.assert_array_equal(kept(f"block_{block}_project_BN"), stream)
    np.testing.assert_array_equal(narrow.get_layer("block_4_project").get_weights()[0],
                                  wide.get_layer("block_4_project").get_weights()[0][:, :, expanded][..., stream])
    np.testing.assert_array_equal(narrow.get_layer("block_6_expand").get_weights()[0],
                                  wide.get_layer("block_6_expand").get_weights()[0][:, :, stream][
                                      ..., kept("block_6_expand_BN")])


def test_a_narrow_net_cut_from_a_run_and_distilled_trains_whole_and_says_so(run_dir, small_dataset,
                                                                             backbone_weights, face_models,
                                                                             tmp_path, capsys):
    out = tmp_path / "narrow"
    assert train_main([
        "--data", str(small_dataset), "--out", str(out), "--labels", "without_mask,with_mask", "--size", "96",
        "--alpha", "0.35", "--teacher", str(run_dir), "--start-from", str(run_dir), "--weights", str(backbone_weights),
        "--detector", "yunet",
        "--detector-dir", str(face_models), "--cache", "", "--whole-epochs", "2", "--batch-size", "16",
    ]) == 0
    assert json.loads((out / "labels.json").read_text())["backbone"] == "mobilenetv2_0.35"
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]["val_loss"]) == 2 and len(metrics["history"]["val_accuracy"]) == 2
    assert f"MobileNetV2 0.35 at 96 px, cut from {run_dir}, distilled from {run_dir}" in (out / "report.md").read_text()
    capsys.readouterr()
    assert train_main(["--data", str(small_dataset), "--out", str(tmp_path / "again"), "--labels",
                       "without_mask,with_mask", "--alpha", "0.35", "--start-from", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is a mobilenetv2_0.35 run; only a mobilenetv2_1.00 run can be narrowed" in err
    assert len(err.strip().splitlines()) == 1


def test_a_teacher_that_is_no_run_or_has_other_classes_is_a_one_line_error(small_dataset, run_dir, tmp_path,
                                                                             capsys):
    assert train_main(["--data", str(small_dataset), "--out", str(tmp_path / "x"), "--alpha", "0.5",
                       "--teacher", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is incomplete: model.keras" in err and len(err.strip().splitlines()) == 1
    # run_dir orders its classes without_mask, with_mask; this run would sort them the other way
    assert train_main(["--data", str(small_dataset), "--out", str(tmp_path / "y"), "--alpha", "0.5",
                       "--teacher", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "has the classes without_mask, with_mask" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "y").exists()
    assert train_main(["--data", str(small_dataset), "--out", str(tmp_path / "z"), "--labels", "without_mask,with_mask",
                       "--start-from", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "give a --alpha below 1.0" in err and len(err.strip().splitlines()) == 1


def test_several_teachers_teach_the_mean_of_their_probabilities_and_must_share_an_input_size():
    import keras

    from train.training import RunError, teachers

    def model(size, seed):
        pixels = keras.Input((size, size, 3))
        pooled = keras.layers.GlobalAveragePooling2D()(pixels)
        head = keras.layers.Dense(3, activation="softmax",
                                  kernel_initializer=keras.initializers.RandomNormal(seed=seed))
        return keras.Model(pixels, head(pooled), name="mask_classifier")  # as every run names its model

    a, b = model(8, 1), model(8, 2)
    crops = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 3)).astype(np.float32)
    mean = (a.predict(crops, verbose=0) + b.predict(crops, verbose=0)) / 2
    assert not np.allclose(a.predict(crops, verbose=0), b.predict(crops, verbose=0), atol=1e-3)
    assert np.allclose(teachers([a, b]).predict(crops, verbose=0), mean, atol=1e-6)
    assert teachers([a]) is a and teachers([]) is None
    with pytest.raises(RunError, match="the teachers take 8 and 16 px crops"):
        teachers([a, model(16, 3)])


def test_a_few_mined_negatives_weigh_no_more_than_the_rarest_face_class():
    from train.fit import class_weights

    labels = np.repeat([0, 1, 2, 3], [600, 400, 100, 20])  # with, without, incorrect, not_face
    free = class_weights(labels, 4)
    assert free[3] == pytest.approx(1120 / (4 * 20))  # inverse frequency: 14 times a face
    capped = class_weights(labels, 4, not_face=3)
    assert capped[3] == pytest.approx(free[2]) and {i: capped[i] for i in range(3)} == {i: free[i] for i in range(3)}
    # a not_face class commoner than the rarest face class keeps its own weight
    assert class_weights(np.repeat([0, 1, 2, 3], [600, 400, 100, 300]), 4, not_face=3)[3] == pytest.approx(1400 / 1200)


def test_a_share_of_training_crops_is_seen_as_a_night_camera_sees_it():
    import tensorflow as tf

    from train.model import greyscale

    rng = np.random.default_rng(0)
    crop = tf.constant(rng.uniform(0, 255, (16, 16, 3)), tf.float32)  # every pixel coloured
    tf.random.set_seed(0)
    out = np.stack([greyscale(crop, 0.3).numpy() for _ in range(200)])
    grey = np.all(np.ptp(out, axis=-1) < 1e-3, axis=(1, 2))
    assert 0.2 < grey.mean() < 0.4
    assert np.array_equal(out[~grey], np.broadcast_to(crop.numpy(), out[~grey].shape))
    # grey as the eye sees it: the luma of the colours, not their mean
    luma = crop.numpy() @ np.array([0.2989, 0.587, 0.114], np.float32)
    assert np.allclose(out[grey][0][..., 0], luma, atol=0.5)
    assert np.array_equal(greyscale(crop, 0.0).numpy(), crop.numpy())
