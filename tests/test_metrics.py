import numpy as np
import pytest

from edge.decision import not_face_index, predict_labels
from edge.scoring import auc, choose_threshold, confusion_matrix, roc_curve, summarize

LABELS = ["with_mask", "without_mask"]


def test_summary_matches_hand_computed_values():
    # 6 samples; violation = class 1. At threshold 0.5 the predictions are 0,0,1,1,1,0.
    y_true = [0, 0, 0, 1, 1, 1]
    p1 = np.array([0.1, 0.4, 0.6, 0.7, 0.9, 0.3])
    probabilities = np.column_stack([1 - p1, p1])
    m = summarize(y_true, probabilities, LABELS, "without_mask", threshold=0.5)
    assert m["confusion"] == [[2, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["without_mask"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    # ROC AUC = share of (positive, negative) pairs ranked right: 0.7>all, 0.9>all, 0.3>0.1 only
    assert m["roc_auc"] == pytest.approx((3 + 3 + 1) / 9)
    # a lower threshold catches the 0.3 violation but also flags the 0.4 negative
    low = summarize(y_true, probabilities, LABELS, "without_mask", threshold=0.25)
    assert low["confusion"] == [[1, 2], [0, 3]]


def test_confusion_matrix_counts_every_pair():
    matrix = confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], 3)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 1], [0, 1, 1]])


def test_roc_curve_and_auc_by_hand():
    fpr, tpr, thresholds = roc_curve([1, 0, 1, 0], [0.9, 0.8, 0.4, 0.2])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1.0, 1.0])
    assert thresholds[0] == np.inf and thresholds[-1] == 0.2
    assert auc(fpr, tpr) == pytest.approx(0.75)


def test_threshold_rule_keeps_the_recall_floor():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.95, 0.9, 0.6, 0.2, 0.5, 0.3, 0.1, 0.05])
    # recall 1.0 needs t <= 0.2, where two negatives (0.5, 0.3) are flagged: balanced acc 0.75;
    # the threshold sits midway between 0.2 and the next lower score, 0.1
    floor = choose_threshold(y, scores, min_recall=1.0)
    assert floor["threshold"] == pytest.approx(0.15) and floor["val_recall"] == 1.0
    assert floor["val_balanced_accuracy"] == pytest.approx(0.75)
    # without the floor, t=0.6 (3/4 recall, no false alarm) balances best
    free = choose_threshold(y, scores, min_recall=0.0)
    assert free["threshold"] == pytest.approx(0.55) and free["val_false_positive_rate"] == 0.0


def test_threshold_ties_favour_recall():
    y = np.array([1, 0, 1, 0])
    # t=0.9 (1/2 recall, no false alarm) and t=0.4 (full recall, 1/2 false alarms) both balance at 0.75
    choice = choose_threshold(y, [0.9, 0.8, 0.4, 0.2], min_recall=0.0)
    assert choice["val_recall"] == 1.0
    assert choice["threshold"] == pytest.approx(0.3)


def test_false_alarm_threshold_bounds_every_set_and_steps_over_ties():
    from edge.scoring import threshold_for_false_alarms

    # one masked face in four may be called unmasked in the first set, none in the second
    result = threshold_for_false_alarms([[0.9, 0.5, 0.1, 0.0], [0.3, 0.2]], 0.25)
    assert result["threshold"] == pytest.approx(0.7)  # between 0.5 and 0.9: only the 0.9 face is called
    # two faces tied at the boundary: calling one would call both, so neither is
    assert threshold_for_false_alarms([[0.5, 0.5, 0.1]], 0.34)["threshold"] == pytest.approx(0.75)
    # a threshold below the manifest's floor is raised to it
    assert threshold_for_false_alarms([[0.0005, 0.0, 0.0, 0.0]], 0.5)["threshold"] == 0.001


def test_with_a_not_face_label_a_detection_more_likely_no_face_is_none_and_the_threshold_applies_to_the_rest():
    labels = ["with_mask", "without_mask", "mask_incorrect", "not_face"]
    probabilities = np.array([
        [0.1, 0.35, 0.05, 0.5],   # no face at 0.5, though p(without_mask) is over the threshold
        [0.3, 0.25, 0.0, 0.45],   # a face: the violation wins at 0.2
        [0.2, 0.1, 0.3, 0.4],     # a face: not_face is the argmax, yet under 0.5; mask_incorrect leads the rest
        [0.9, 0.05, 0.05, 0.0],
    ])
    np.testing.assert_array_equal(predict_labels(probabilities, 1, 0.2, not_face_index(labels)), [3, 1, 2, 0])
    m = summarize([3, 1, 2, 3], probabilities, labels, "without_mask", threshold=0.2)
    assert m["accuracy"] == pytest.approx(3 / 4) and m["per_class"]["not_face"]["recall"] == pytest.approx(0.5)
    # a model without the label keeps argmax and threshold alone
    assert not_face_index(labels[:3]) is None
    np.testing.assert_array_equal(predict_labels(probabilities[:, :3], 1, 0.2), [1, 1, 2, 0])


def test_macro_f1_averages_only_the_labels_the_set_holds():
    """A two-class set scored by a three-class model: mask_incorrect has no face, so no F1 to average."""
    labels = ["with_mask", "without_mask", "mask_incorrect"]
    probabilities = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1]])
    result = summarize([0, 0, 1, 1], probabilities, labels)
    assert result["per_class"]["mask_incorrect"]["support"] == 0
    assert result["macro_f1"] == 1.0
