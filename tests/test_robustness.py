import json

import numpy as np
import pytest

from train import robustness


@pytest.fixture(scope="module")
def crop(face):
    import cv2

    return cv2.resize(face, (128, 128))[..., ::-1].copy()  # RGB, as the run's crops are


@pytest.mark.parametrize("name, transform, only", robustness.CONDITIONS[1:])
def test_every_condition_changes_the_crop_and_keeps_its_form(crop, name, transform, only):
    changed = transform(crop, np.random.default_rng(0))
    assert changed.shape == crop.shape and changed.dtype == np.uint8
    assert np.abs(changed.astype(int) - crop).mean() > 1, name


def test_degradations_grow_with_their_strength(crop):
    def loss(transform):
        return np.abs(transform(crop, np.random.default_rng(0)).astype(int) - crop).mean()

    assert loss(robustness.smaller(64)) < loss(robustness.smaller(32))
    assert loss(robustness.motion_blur(9)) < loss(robustness.motion_blur(17))
    assert loss(robustness.jpeg(20)) < loss(robustness.jpeg(5))
    assert robustness.darker(0.15, 6)(crop, np.random.default_rng(0)).mean() < 0.25 * crop.mean()


def test_report_on_a_run_and_its_export(run_dir, bundle, tmp_path, capsys):
    out = tmp_path / "robustness"
    assert robustness.main(["--run", str(run_dir), "--model", str(bundle), "--out", str(out), "--cache", ""]) == 0
    rows = json.loads((out / "robustness.json").read_text())
    assert [r["condition"] for r in rows] == [name for name, _, _ in robustness.CONDITIONS]
    clean = rows[0]
    assert all(r["n"] == clean["n"] for r in rows if "(unmasked)" not in r["condition"])
    hand = next(r for r in rows if r["condition"].startswith("hand"))
    assert 0 < hand["n"] < clean["n"] and hand["with_mask_recall"] is None
    assert hand["without_mask_recall"] == hand["accuracy"]
    assert (out / "robustness.png").stat().st_size > 10_000
    assert "| small face 32 px |" in (out / "robustness.md").read_text()


def test_the_night_camera_leaves_no_colour_and_the_dark_night_less_light(crop):
    assert np.ptp(crop.astype(int), axis=-1).max() > 20  # the face had colour
    rng = np.random.default_rng(0)
    grey, dark = robustness.night()(crop, rng), robustness.night(0.35, 4)(crop, rng)
    assert np.ptp(grey.astype(int), axis=-1).max() == 0
    assert dark.mean() < 0.45 * grey.mean()
