"""Three classes on the device: the policy from the manifest and [policy], in counts, alerts and reports."""

import json
import sqlite3

import numpy as np
import pytest

from edge import manifest as manifests
from edge.cli.run import main as edge_run
from edge.counts import CountStore
from edge.paths import SHIPPED_MODELS
from edge.pipeline import FaceResult, FrameResult, Person
from edge.policy import OK, VIOLATION, WARNING, Policy, countable, default_for, resolve
from edge.runner import summary, update_alerts
from edge.tracker import Track


def test_a_two_class_bundle_from_before_the_policy_still_loads_and_counts(bundle, tmp_path, face_models,
                                                                          walk_video):
    """A schema 2 bundle (exported before the policy) has one violation; a [policy] for a label it lacks
    changes nothing."""
    import shutil

    from edge.classifiers import load_classifier

    old = tmp_path / "old"
    shutil.copytree(bundle, old)
    data = json.loads((old / "manifest.json").read_text())
    data.pop("policy")
    (old / "manifest.json").write_text(json.dumps({**data, "schema_version": 2}))
    manifest = load_classifier(old).manifest  # and its self-test passes
    assert manifest.schema_version == 2 and manifest.policy is None
    policy = resolve(manifest, {"mask_incorrect": VIOLATION, "with_mask": None})
    assert policy.severity == {"without_mask": VIOLATION, "with_mask": OK}
    assert resolve(manifest, {"without_mask": WARNING}).of("without_mask") == WARNING
    walk_video(tmp_path / "walk.avi", frames=30)
    assert edge_run(["--camera", str(tmp_path / "walk.avi"), "--model", str(old), "--detector", "yunet",
                     "--detector-dir", str(face_models), "--db", str(tmp_path / "counts.db"),
                     "--policy-mask-incorrect", "violation"]) == 0
    assert sqlite3.connect(tmp_path / "counts.db").execute("SELECT COUNT(*) FROM counts").fetchone()[0] == 1


def test_the_shipped_models_say_what_their_labels_mean():
    for name in ("default", "fast"):
        manifest = manifests.load(SHIPPED_MODELS / name)
        assert resolve(manifest, {}).of("without_mask") == VIOLATION and resolve(manifest, {}).of("with_mask") == OK


def test_a_three_class_bundle_carries_its_policy_and_proves_itself(bundle3):
    from edge.classifiers import load_classifier

    classifier = load_classifier(bundle3)  # self-test included
    manifest = classifier.manifest
    assert manifest.schema_version == manifests.SCHEMA_VERSION == 4
    assert manifest.labels == ["with_mask", "without_mask", "mask_incorrect"]
    assert manifest.policy == {"with_mask": OK, "without_mask": VIOLATION, "mask_incorrect": WARNING}
    assert classifier.classify(__import__("numpy").zeros((1, 96, 96, 3), "uint8")).shape == (1, 3)


def test_a_policy_naming_an_unknown_severity_or_label_is_refused(bundle3, tmp_path):
    data = json.loads((bundle3 / "manifest.json").read_text())
    data["policy"]["mask_incorrect"] = "alarm"
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(Exception, match="policy mask_incorrect = 'alarm': each key must be a label"):
        manifests.load(tmp_path)


def test_the_summary_counts_incorrect_masks_and_leaves_them_and_the_not_judged_out_of_compliance(tmp_path):
    store = CountStore(tmp_path / "counts.db")
    for label in ("with_mask", "with_mask", "mask_incorrect", "without_mask", "not_judged"):
        store.add(label, 0.9, 3)
    policy = Policy({"with_mask": OK, "without_mask": VIOLATION, "mask_incorrect": WARNING})
    line = summary(store.session(), policy, 10.0, store.totals(), "counts.db")
    # compliance is over the four people judged: the one never seen well enough is neither way
    assert line == ("masked=2 unmasked=1 incorrect=1 not_judged=1 passers_by=0 leaving=0 compliance=50.0% fps=10.0 "
                    "(this run; counts.db holds masked=2 unmasked=1 incorrect=1 not_judged=1 passers_by=0 leaving=0 "
                    "in all)")
    assert policy.compliance({"not_judged": 3}) is None
    store.close()
    # a site that counts a mask worn wrong as compliant says so in [policy]
    assert "compliance=75.0%" in summary({"with_mask": 2, "mask_incorrect": 1, "without_mask": 1},
                                         Policy({"without_mask": VIOLATION}), 1.0)


def test_alerts_act_on_the_policy_of_who_was_counted(tmp_path):
    from gpiozero.pins.mock import MockFactory

    from edge.alerts import create_alerts
    from edge.config import AlertsConfig

    factory = MockFactory()
    alerts = create_alerts(AlertsConfig(red_led=27, buzzer=22, relay=23, beeps=3, beep_on=0.05, beep_off=0.05,
                                        warning_beep=0.02, relay_seconds=0.05), factory)
    policy = Policy({"with_mask": OK, "without_mask": VIOLATION, "mask_incorrect": WARNING})
    track = Track(1, np.array([0.0, 0, 10, 10]), np.array([0.05, 0.05, 0.9]), counted=True, label=2, confidence=0.9)
    incorrect = FrameResult([FaceResult((0, 0, 10, 10), "mask_incorrect", 0.9, 1, "mask_incorrect")],
                            [Person("mask_incorrect", track)])
    update_alerts(alerts, 0.0, incorrect, policy)
    assert factory.pin(27).state == 1
    __import__("time").sleep(0.3)
    assert [s.state for s in factory.pin(22).states] == [False, True, False]  # one beep, not three
    assert [s.state for s in factory.pin(23).states] == [False, True]  # the door stays shut
    alerts.close()
    factory.close()


def test_edge_run_with_a_three_class_model_counts_and_alerts_by_the_configured_policy(
        tmp_path, bundle3, face_models, walk_video, capsys):
    """Whatever the tiny model calls the person, [policy] makes every label a warning: one short beep, the
    red LED, no door release, and the label in the DB, the detections and the report."""
    from gpiozero.pins.mock import MockFactory

    from edge.cli.report import main as edge_report

    walk_video(tmp_path / "walk.avi", frames=40)
    factory = MockFactory()
    (tmp_path / "edge-run.toml").write_text('[policy]\nwith_mask = "warning"\nwithout_mask = "warning"\n')
    code = edge_run(["--config", str(tmp_path / "edge-run.toml"), "--camera", str(tmp_path / "walk.avi"),
                     "--model", str(bundle3), "--detector", "yunet", "--detector-dir", str(face_models),
                     "--db", str(tmp_path / "counts.db"), "--detections", str(tmp_path / "d.jsonl"),
                     "--policy-mask-incorrect", "warning", "--red-led", "27", "--buzzer", "22", "--relay", "23",
                     "--beeps", "3", "--warning-beep", "0.02"], pin_factory=factory)
    assert code == 0
    (label,), = sqlite3.connect(tmp_path / "counts.db").execute("SELECT label FROM counts").fetchall()
    assert label in ("with_mask", "without_mask", "mask_incorrect")
    labels = {f["label"] for line in (tmp_path / "d.jsonl").read_text().splitlines()
              for f in json.loads(line)["faces"]}
    assert labels <= {"with_mask", "without_mask", "mask_incorrect"}
    out = capsys.readouterr().out.splitlines()[-1]
    word = {"with_mask": "masked", "without_mask": "unmasked", "mask_incorrect": "incorrect"}[label]
    assert f"{word}=1" in out and "compliance=0.0%" in out and "incorrect=" in out
    assert [s.state for s in factory.pin(22).states].count(True) == 1  # one short beep
    assert any(s.state for s in factory.pin(27).states)
    assert [s.state for s in factory.pin(23).states] == [False, True]  # the relay was never energised
    factory.close()
    assert edge_report(["--db", str(tmp_path / "counts.db"), "--by", "day",
                        "--violation", "with_mask,without_mask,mask_incorrect"]) == 0
    report = capsys.readouterr().out
    day = next(line for line in report.splitlines() if line[:4].isdigit())  # (a note on the clock may follow)
    assert "mask_incorrect" in report and day.split()[-3] == "0.0"  # compliance, then passers-by and leaving


def test_not_face_is_no_count_and_has_no_severity():
    """A model with a not_face label: nobody is counted as that (no DB label, no MQTT sensor, no edge-report
    column), and export writes no severity for it, so the false-alarm threshold is not chosen on it either."""
    labels = ["with_mask", "without_mask", "mask_incorrect", "not_face"]
    assert countable(labels) == ["with_mask", "without_mask", "mask_incorrect", "not_judged", "passer_by", "leaving"]
    assert default_for(labels, "without_mask") == {"with_mask": OK, "without_mask": VIOLATION,
                                                   "mask_incorrect": WARNING}
    assert countable(labels[:2]) == ["with_mask", "without_mask", "not_judged", "passer_by", "leaving"]
