import numpy as np
import pytest

from edge.crops import (
    CropRule,
    crop_face,
    downscale_for_detection,
    expand_box,
    iou_matrix,
    regions_area,
    scale_boxes,
    search_regions,
)
from edge.motion import changed_boxes


def test_expand_box_adds_margin_and_squares_around_the_centre():
    region = expand_box((10, 20, 40, 20), CropRule(margin=0.25, square=True))
    # 40x20 grows to 60x30, squared to 60x60 around the centre (30, 30)
    np.testing.assert_allclose(region, [0, 0, 60, 60])
    np.testing.assert_allclose(expand_box((10, 20, 40, 20), CropRule(0.0, False)), [10, 20, 40, 20])
    with pytest.raises(ValueError):
        CropRule(margin=2.0)


def test_crop_face_is_rgb_and_pads_at_the_frame_edge():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[:, :, 0] = 255  # pure blue in BGR
    crop = crop_face(frame, (-20, 0, 40, 40), CropRule(0.0, True), 32)
    assert crop.shape == (32, 32, 3)
    assert (crop[:, :, 2] == 255).all() and (crop[:, :, :2] == 0).all()  # blue lands in RGB's B
    with pytest.raises(ValueError, match="outside"):
        crop_face(frame, (200, 200, 10, 10), CropRule(), 32)


def test_crop_face_keeps_the_face_in_place():
    frame = np.zeros((200, 200, 3), np.uint8)
    frame[80:120, 80:120] = 200
    crop = crop_face(frame, (80, 80, 40, 40), CropRule(margin=0.5), 80)
    # the bright square fills the middle half of the crop
    assert crop[40, 40].tolist() == [200, 200, 200] and crop[5, 5].tolist() == [0, 0, 0]
    assert crop[22, 40, 0] > 100 > crop[17, 40, 0]


def test_iou_matrix_by_hand():
    a = np.array([[0, 0, 10, 10], [20, 20, 10, 10]])
    b = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [100, 100, 1, 1]])
    expected = np.array([[50 / 150, 1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(iou_matrix(a, b), expected)


def test_downscale_then_scale_back_round_trips_boxes():
    frame = np.zeros((480, 640, 3), np.uint8)
    small, factor = downscale_for_detection(frame, 320)
    assert small.shape == (240, 320, 3) and factor == 0.5
    np.testing.assert_allclose(scale_boxes([[10, 20, 30, 40]], factor), [[20, 40, 60, 80]])
    same, one = downscale_for_detection(frame, 1000)
    assert same is frame and one == 1.0


def test_search_regions_grow_boxes_clip_to_the_frame_and_merge_overlaps():
    regions = search_regions([(100, 100, 40, 40), (130, 110, 40, 40), (500, 10, 10, 10)], 640, 480,
                             pad=0.5, min_side=60)
    # the first two grow to 80x80 around (120, 120) and (150, 130), overlap, and become one;
    # the third grows to the 60-px floor around (505, 15) and is clipped at the top
    assert sorted(map(tuple, regions[:, :4].astype(int).tolist())) == [(80, 80, 190, 170), (475, 0, 535, 45)]
    assert np.isnan(regions[:, 4:]).all()  # no face widths given: any size may be there
    assert regions_area(regions) == regions_area(regions, unbounded_only=True) == 110 * 90 + 60 * 45
    assert search_regions(np.zeros((0, 4)), 640, 480, 0.5, 60).shape == (0, 6)


def test_a_change_touching_a_tracked_face_is_searched_for_that_face_s_widths_and_others_for_any():
    nan = np.nan
    boxes = [(100, 100, 50, 50), (160, 100, 40, 40), (120, 90, 60, 60), (400, 300, 30, 30)]
    widths = [(nan, nan), (30, 60), (45, 80), (nan, nan)]  # two changed patches, two tracked faces
    regions = search_regions(boxes, 640, 480, pad=[0.0, 0.25, 0.25, 0.0], min_side=0, face_widths=widths)
    # the first patch and both faces overlap: one region, for the faces' widths; the far patch: any
    assert regions.tolist()[0] == [100.0, 75.0, 210.0, 165.0, 30.0, 80.0]
    assert regions[1, :4].tolist() == [400, 300, 430, 330] and np.isnan(regions[1, 4:]).all()
    assert regions_area(regions, unbounded_only=True) == 30 * 30


def test_search_regions_merge_a_chain_that_only_overlaps_after_merging():
    # the second box overlaps neither the first nor the third, only the region the two make
    regions = search_regions([(0, 0, 10, 10), (12, 0, 8, 6), (8, 8, 12, 12)], 100, 100, pad=0.0, min_side=0)
    assert regions[:, :4].tolist() == [[0, 0, 20, 20]]


def test_changed_boxes_outline_each_moving_patch_in_frame_pixels():
    changed = np.zeros((60, 80), bool)
    changed[10, 10:20] = changed[20, 10:20] = True  # two edges of one face, a gap of 9 cells between
    changed[50:52, 70:72] = True
    boxes = sorted(map(tuple, changed_boxes(changed, 640, 480).astype(int)))
    # cells are 8x8 px; dilation grows each patch by a cell, which does not bridge the 9-cell gap
    assert boxes == [(72, 72, 96, 24), (72, 152, 96, 24), (552, 392, 32, 32)]
