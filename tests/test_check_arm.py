"""make check-arm's verdict (tools/check_arm.py compare): what counts as the same result on ARM as on x86."""

import copy
import importlib.util

from conftest import REPO

# tools/ holds stand-alone scripts, not a package: load the script itself
_spec = importlib.util.spec_from_file_location("check_arm", REPO / "tools" / "check_arm.py")
check_arm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_arm)
compare = check_arm.compare

X86 = {"crops": {"litert-int8": {"probabilities": [[0.9, 0.1], [0.2, 0.8]]},
                 "onnx-int8": {"probabilities": [[0.9, 0.1], [0.45, 0.55]]}},
       "clips": {"demo haar litert-int8": {"counts": {"with_mask": 1, "without_mask": 1},
                                            "boxes": [[], [[10, 20, 100, 100]], [[14, 20, 100, 101]]]}}}


def test_identical_results_pass():
    rows, ok = compare(X86, copy.deepcopy(X86))
    assert ok and [row[-1] for row in rows] == ["ok", "ok", "ok"]


def test_int8_kernels_may_differ_only_where_they_are_other_code():
    arm = copy.deepcopy(X86)
    arm["crops"]["onnx-int8"]["probabilities"][1] = [0.4, 0.6]  # 0.05 off, the label the same
    assert compare(X86, arm)[1]
    arm["crops"]["litert-int8"]["probabilities"][0] = [0.6, 0.4]  # 0.3 off: more than ARM's kernels were
    rows, ok = compare(X86, arm)
    assert not ok and rows[0][-1] == "FAIL"


def test_a_different_count_a_lost_face_or_a_box_moved_beyond_the_detectors_tolerance_fails():
    arm = copy.deepcopy(X86)
    arm["clips"]["demo haar litert-int8"]["boxes"][2][0][0] = 16  # Haar's pyramid may move a box 2 px
    assert compare(X86, arm)[1]
    for change in (lambda c: c["counts"].update(without_mask=2), lambda c: c["boxes"][1].clear(),
                   lambda c: c["boxes"][2][0].__setitem__(0, 17)):
        arm = copy.deepcopy(X86)
        change(arm["clips"]["demo haar litert-int8"])
        rows, ok = compare(X86, arm)
        assert not ok and rows[-1][-1] == "FAIL"
    yunet = {"crops": {}, "clips": {"demo yunet litert-int8": {"counts": {}, "boxes": [[[10, 20, 100, 100]]]}}}
    moved = copy.deepcopy(yunet)
    moved["clips"]["demo yunet litert-int8"]["boxes"][0][0][1] = 22
    assert not compare(yunet, moved)[1]


def test_the_int8_detector_may_move_a_box_as_far_as_haar_and_its_float_twin_may_not():
    key = "demo maskwatch litert-int8 (detector on {})"
    for runtime, allowed in (("litert-int8", True), ("litert", False)):
        x86 = {"crops": {}, "clips": {key.format(runtime): {"counts": {}, "boxes": [[[10, 20, 100, 100]]]}}}
        arm = copy.deepcopy(x86)
        arm["clips"][key.format(runtime)]["boxes"][0][0][1] = 22
        assert compare(x86, arm)[1] is allowed, runtime


def test_a_backend_missing_on_one_side_fails():
    arm = copy.deepcopy(X86)
    arm["crops"]["onnx-int8"] = {"error": "no module named onnxruntime"}
    rows, ok = compare(X86, arm)
    assert not ok and "onnxruntime" in rows[1][2]
