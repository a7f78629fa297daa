import json
import shutil

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from edge import manifest as manifests  # noqa: E402
from edge.classifiers import backends, load_classifier  # noqa: E402
from edge.errors import ModelFileError, ModelMismatchError  # noqa: E402
from export.__main__ import main as export_main  # noqa: E402


def crops(n=3, size=96):
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_bundle_holds_every_artifact_and_a_valid_manifest(bundle):
    manifest = manifests.load(bundle)
    assert {a.backend for a in manifest.artifacts} == set(backends())
    assert manifest.labels == ["without_mask", "with_mask"] and manifest.pixel_format == "RGB"
    assert manifest.crop == manifests.Crop(margin=0.2, square=True)
    int8 = manifest.artifact("litert-int8")
    # raw pixels in: normalisation is in the graph, so the input is pixel - 128
    assert (int8.input.dtype, int8.input.scale, int8.input.zero_point) == ("int8", 1.0, -128)
    for artifact in manifest.artifacts:
        assert manifests.sha256_of(bundle / artifact.file) == artifact.sha256
        assert {"accuracy", "agreement_with_float", "ms_per_crop"} <= set(artifact.metrics)
    report = (bundle / "report.md").read_text()
    assert "mask_classifier.int8.tflite" in report and "agreement" in report


@pytest.mark.parametrize("backend", backends())
def test_every_backend_classifies_a_batch_in_one_call(bundle, backend):
    classifier = load_classifier(bundle, backend)
    probabilities = classifier.classify(crops(3))
    assert probabilities.shape == (3, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.02)
    assert classifier.classify(crops(1)).shape == (1, 2)  # batch size changes between frames


def test_int8_and_float_stay_close(bundle):
    faces = crops(8)
    reference = load_classifier(bundle, "onnx-fp32").classify(faces)
    assert np.abs(load_classifier(bundle, "litert-fp32").classify(faces) - reference).max() < 0.01
    # Noise crops on a 3-epoch model sit far from the calibration data, so int8 drifts; the
    # export gate on real test crops is what decides whether an int8 artifact ships.
    for backend in ("litert-int8", "onnx-int8"):
        assert np.abs(load_classifier(bundle, backend).classify(faces) - reference).max() < 0.35


def copy_bundle(bundle, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(bundle, target)
    return target


def edit_manifest(folder, change):
    data = json.loads((folder / "manifest.json").read_text())
    change(data)
    (folder / "manifest.json").write_text(json.dumps(data))


def test_tampered_artifact_is_refused(bundle, tmp_path):
    copy = copy_bundle(bundle, tmp_path)
    model = copy / "mask_classifier.int8.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelMismatchError, match="sha256"):
        load_classifier(copy, "litert-int8")


def test_manifest_with_other_labels_or_input_is_refused(bundle, tmp_path):
    copy = copy_bundle(bundle, tmp_path)
    edit_manifest(copy, lambda d: d.update(labels=["a", "b", "c"], violation_label="c"))
    with pytest.raises(ModelMismatchError, match=r"output.shape is \[-1, 2\], but there are 3 labels"):
        load_classifier(copy, "litert-int8")
    copy = copy_bundle(bundle, tmp_path / "2")

    def other_input(data):
        for artifact in data["artifacts"]:
            artifact["input"]["shape"] = [-1, 128, 128, 3]
        data["input_size"] = 128

    edit_manifest(copy, other_input)
    for backend in ("litert-int8", "onnx-fp32"):
        with pytest.raises(ModelMismatchError, match="manifest says"):
            load_classifier(copy, backend)


def test_manifest_schema_is_strict(bundle, tmp_path):
    copy = copy_bundle(bundle, tmp_path)
    edit_manifest(copy, lambda d: d.update(colour="blue"))
    with pytest.raises(ModelMismatchError, match="unknown key 'colour'"):
        manifests.load(copy)
    edit_manifest(copy, lambda d: (d.pop("colour"), d["artifacts"][0].pop("sha256")))
    with pytest.raises(ModelMismatchError, match=r"artifacts\[0\]: missing key 'sha256'"):
        manifests.load(copy)
    edit_manifest(copy, lambda d: d.update(schema_version=99))
    with pytest.raises(ModelMismatchError, match="schema version"):
        manifests.load(copy)
    with pytest.raises(ModelFileError, match="no model manifest"):
        manifests.load(tmp_path / "nowhere")


def test_failed_verification_leaves_no_output(run_dir, tmp_path, capsys):
    out = tmp_path / "refused"
    code = export_main(["--run", str(run_dir), "--out", str(out), "--calibration", "20", "--cache", "",
                        "--min-agreement", "1.01"])
    assert code == 2
    err = capsys.readouterr().err
    assert "int8 verification failed" in err and err.count("\n") == 1
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_bad_inputs_are_one_line_errors(run_dir, bundle, tmp_path, capsys):
    assert export_main(["--run", str(run_dir), "--out", str(bundle)]) == 2
    assert "exists" in capsys.readouterr().err
    incomplete = tmp_path / "run"
    incomplete.mkdir()
    shutil.copy(run_dir / "labels.json", incomplete)
    assert export_main(["--run", str(incomplete), "--out", str(tmp_path / "x")]) == 2
    assert "incomplete: model.keras, config.json, split.csv missing" in capsys.readouterr().err
    mixed = tmp_path / "mixed"
    shutil.copytree(run_dir, mixed)
    contract = json.loads((mixed / "labels.json").read_text())
    (mixed / "labels.json").write_text(json.dumps({**contract, "input_size": 160}))
    assert export_main(["--run", str(mixed), "--out", str(tmp_path / "y")]) == 2
    assert "model input is (96, 96, 3) but labels.json claims (160, 160, 3)" in capsys.readouterr().err
    # the tiny run's threshold was chosen on its validation split alone: no calibration set to move
    assert export_main(["--run", str(run_dir), "--out", str(tmp_path / "z"), "--calibrate", str(tmp_path)]) == 2
    assert "threshold rule uses no calibration set — leave out --calibrate" in capsys.readouterr().err
    assert not (tmp_path / "z").exists()


def test_package_is_reproducible_and_runs_as_is(bundle, tmp_path, capsys):
    from export.package import main as package_main

    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    assert package_main([str(bundle), "--out", str(first)]) == 0
    assert package_main([str(bundle), "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert not (bundle / manifests.CHECKSUMS_NAME).exists()  # the export folder is left as it was
    for backend in backends():
        classifier = load_classifier(first, backend)
        assert classifier.classify(crops(2)).shape == (2, 2)
    assert not list(tmp_path.glob("*.part"))


def test_damaged_or_foreign_package_is_refused_in_one_line(bundle, tmp_path, capsys):
    import io
    import tarfile

    from edge.cli.run import main as edge_run

    packed = manifests.pack(bundle, tmp_path / "m.tar.gz")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    escaping = tmp_path / "escaping.tar.gz"
    with tarfile.open(escaping, "w:gz") as tar:
        info = tarfile.TarInfo("../outside/manifest.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    edited = manifests.unpack(packed, tmp_path / "edited")
    edit_manifest(edited, lambda data: data.update(threshold=0.9))
    resealed = tmp_path / "resealed.tar.gz"
    with tarfile.open(resealed, "w:gz") as tar:
        tar.add(edited, arcname=edited.name)
    for bad, message in [(truncated, "not a readable bundle"), (escaping, "not a model bundle"),
                         (resealed, "manifest.json does not match SHA256SUMS"),
                         (tmp_path / "missing.tar.gz", "no model bundle at")]:
        code = edge_run(["--model", str(bad), "--camera", str(tmp_path), "--check"])
        err = capsys.readouterr().err
        assert code == 1 and message in err and err.count("\n") == 1, err
    assert not (tmp_path.parent / "outside").exists()


def test_shipping_keeps_the_device_artifacts_with_their_own_thresholds_and_refuses_an_edited_bundle(bundle3,
                                                                                                     tmp_path):
    from export.ship import ship

    source = manifests.load(bundle3)
    assert any(a.threshold is not None for a in source.artifacts)  # their thresholds are in the self-test's digest
    ship(bundle3, tmp_path / "shipped")
    shipped = manifests.load(tmp_path / "shipped")
    assert [a.backend for a in shipped.artifacts] == ["litert-int8", "onnx-int8", "onnx-fp32"]
    for artifact in shipped.artifacts:
        classifier = load_classifier(tmp_path / "shipped" / artifact.file)  # proves itself
        assert classifier.threshold == source.threshold_of(source.artifact(artifact.backend))

    edited = copy_bundle(bundle3, tmp_path)
    edit_manifest(edited, lambda d: d["artifacts"][0].update(threshold=0.9))
    with pytest.raises(ModelMismatchError, match="were changed after export"):
        ship(edited, tmp_path / "again")
    assert not (tmp_path / "again").exists()
