"""core.objects: a cutout split into objects (separate, touching, left out by the model)."""

from __future__ import annotations

import cv2
import numpy as np

from bgeraser_gui.core.click_proposals import CropSegmenter
from bgeraser_gui.core.objects import SOFT_HALO, SplitSettings, compose_alpha, split_objects

GREY = (120, 120, 120)


def _photo(h: int = 300, w: int = 400) -> np.ndarray:
    return np.full((h, w, 3), GREY, np.uint8)


def _two_disks(rgb: np.ndarray, colours, centres=((130, 150), (250, 150)), r: int = 60):
    mask = np.zeros(rgb.shape[:2], np.float32)
    for colour, (cx, cy) in zip(colours, centres, strict=True):
        cv2.circle(rgb, (cx, cy), r, colour, -1)
        cv2.circle(mask, (cx, cy), r, 1.0, -1)
    return mask


def test_separate_subjects_are_separate_objects_named_by_position():
    rgb = _photo()
    mask = _two_disks(rgb, [(200, 40, 40), (40, 40, 200)], centres=((80, 150), (320, 150)), r=50)
    objects = split_objects(rgb, mask)
    assert [o.id for o in objects] == [1, 2]
    assert all(o.suggested and o.source == "model" for o in objects)
    names = sorted(o.name for o in objects)
    assert names[0] == "main subject" and names[1] in ("left subject", "right subject")
    union = compose_alpha(objects, [1, 2], mask.shape)
    assert np.array_equal(union >= 0.5, mask >= 0.5)


def test_touching_subjects_split_only_where_the_image_shows_an_edge():
    red_blue = _photo()
    mask = _two_disks(red_blue, [(200, 40, 40), (40, 40, 200)])  # overlapping disks
    assert len(split_objects(red_blue, mask)) == 2
    one_colour = _photo()
    mask = _two_disks(one_colour, [(200, 40, 40), (200, 40, 40)])
    assert len(split_objects(one_colour, mask)) == 1


def test_split_objects_partition_the_cutout_and_keep_soft_edges():
    rgb = _photo()
    mask = cv2.GaussianBlur(_two_disks(rgb, [(200, 40, 40), (40, 40, 200)]), (0, 0), 3)
    objects = split_objects(rgb, mask)
    masks = [o.full_mask(mask.shape) for o in objects]
    assert not (masks[0] & masks[1]).any()
    union = compose_alpha(objects, [o.id for o in objects], mask.shape)
    agree = (union >= 0.5) == (mask >= 0.5)
    assert agree.mean() > 0.999
    # soft edges are the model's own (a faint halo below SOFT_HALO is dropped)
    assert np.abs(union - mask).max() <= SOFT_HALO + 1 / 255
    for o in objects:
        assert o.alpha.shape == (o.bbox.height, o.bbox.width) and o.alpha.dtype == np.uint8
        assert 0.0 < o.score <= 1.0


def test_things_the_model_left_out_are_found_on_crops_hidden_by_default():
    rgb = _photo(400, 400)
    cv2.circle(rgb, (100, 100), 40, (200, 40, 40), -1)  # the model's subject
    cv2.rectangle(rgb, (260, 260), (330, 340), (30, 160, 30), -1)  # left out by the model
    mask = np.zeros((400, 400), np.float32)
    cv2.circle(mask, (100, 100), 40, 1.0, -1)

    def segment(crop: np.ndarray) -> np.ndarray:  # "salient" = not grey
        return (np.abs(crop.astype(int) - GREY).sum(axis=2) > 60).astype(np.float32)

    crops = CropSegmenter(rgb, segment)
    objects = split_objects(rgb, mask, crops=crops, settings=SplitSettings(crop_grid=2))
    assert [o.source for o in objects] == ["model", "crop"]
    found = objects[1]
    assert not found.suggested and "(found)" in found.name
    assert found.bbox.x0 <= 262 and found.bbox.x1 >= 328 and found.bbox.y1 >= 338
    assert found.mask.sum() > 0.9 * 70 * 80
    assert len(crops._cache) == 4  # crop_grid^2 model runs, cached for clicks


def test_no_subject_gives_no_objects():
    rgb = _photo()
    assert split_objects(rgb, np.zeros(rgb.shape[:2], np.float32)) == []


def test_what_the_model_holds_faintly_is_an_object_hidden_by_default():
    rgb = _photo()
    mask = np.zeros(rgb.shape[:2], np.float32)
    cv2.circle(mask, (100, 150), 50, 1.0, -1)
    mask[100:200, 250:350] = 0.3  # the model is unsure about this one
    objects = split_objects(rgb, mask)
    assert [o.source for o in objects] == ["model", "faint"]
    faint = objects[1]
    assert not faint.suggested and faint.name.endswith("(faint)")
    assert faint.bbox.x0 <= 251 and faint.bbox.x1 >= 349 and faint.mask.sum() > 0.9 * 100 * 100
    visible = [o.id for o in objects if o.suggested]
    assert compose_alpha(objects, visible, mask.shape)[150, 300] == 0.0


def test_a_subject_a_crop_sees_in_two_parts_is_cut_in_two():
    rgb = _photo(400, 400)
    rgb[40:140, 40:90] = (200, 40, 40)  # one square region, two colours: the crop's model
    rgb[40:140, 90:140] = (40, 40, 200)  # calls only the red half subject
    mask = np.zeros((400, 400), np.float32)
    mask[40:140, 40:140] = 1.0

    def segment(crop: np.ndarray) -> np.ndarray:
        return ((crop[..., 0] > 150) & (crop[..., 2] < 100)).astype(np.float32)

    alone = SplitSettings(colour_edge=float("inf"))  # the crops' cut alone, not the colours'
    whole = split_objects(rgb, mask, settings=alone)
    assert len(whole) == 1  # no crops: one subject (one core, no split)
    parts = split_objects(rgb, mask, crops=CropSegmenter(rgb, segment), settings=alone)
    assert [o.source for o in parts] == ["model", "model"]
    boxes = sorted((o.bbox.x0, o.bbox.x1) for o in parts)
    assert abs(boxes[0][1] - 90) <= 2 and abs(boxes[1][0] - 90) <= 2
    union = compose_alpha(parts, [o.id for o in parts], mask.shape)
    assert np.array_equal(union >= 0.5, mask >= 0.5)  # the automatic cutout is unchanged


def test_a_big_thing_the_model_left_out_is_a_hidden_object_the_background_is_none():
    rgb = _photo()
    rgb[100:, 220:380] = (30, 140, 60)  # a big green thing standing on the bottom of the frame
    mask = np.zeros(rgb.shape[:2], np.float32)
    cv2.circle(rgb, (100, 150), 50, (200, 40, 40), -1)
    cv2.circle(mask, (100, 150), 50, 1.0, -1)
    objects = split_objects(rgb, mask)
    assert [o.source for o in objects] == ["model", "hidden"]
    hidden = objects[1]
    assert not hidden.suggested and hidden.name.endswith("(hidden)")
    assert abs(hidden.bbox.x0 - 220) <= 4 and abs(hidden.bbox.x1 - 380) <= 4  # its blended
    assert abs(hidden.bbox.y0 - 100) <= 4 and hidden.bbox.y1 == 300  # edge may stay out
    assert hidden.mask.sum() > 0.95 * 160 * 200
    # the grey around both touches every side of the photo: the background, no object
    assert len(split_objects(rgb, mask, settings=SplitSettings(hidden=0))) == 1


def test_colour_regions_follow_colour_edges():
    from bgeraser_gui.core.object_regions import colour_regions

    rgb = _photo(120, 160)
    rgb[:, 80:] = (30, 140, 60)
    rgb[40:80, 20:60] = (200, 40, 40)
    labels = colour_regions(rgb, 4500.0, 600)  # smaller than the red square, bigger than the
    assert labels.max() == 3  # strips of blended colour along the edges
    assert len(np.unique(labels[:, 82:])) == 1 and len(np.unique(labels[42:78, 22:58])) == 1
    assert labels[0, 0] != labels[0, 100] != labels[60, 40]


def _disk_and_bar(disk_colour, bar_colour) -> tuple[np.ndarray, np.ndarray]:
    """A big disk with a bar below it, one model region: the bar is too thin for a core of
    its own (an umbrella and the person under it)."""
    rgb = _photo(360, 400)
    mask = np.zeros(rgb.shape[:2], np.float32)
    cv2.rectangle(rgb, (175, 150), (225, 330), bar_colour, -1)
    cv2.rectangle(mask, (175, 150), (225, 330), 1.0, -1)
    cv2.circle(rgb, (200, 110), 85, disk_colour, -1)
    cv2.circle(mask, (200, 110), 85, 1.0, -1)
    return rgb, mask


def test_a_subject_is_cut_where_its_colour_regions_meet_at_a_strong_edge():
    from bgeraser_gui.core.object_split import split_component

    rgb, mask = _disk_and_bar((200, 40, 40), (40, 40, 200))
    grad = cv2.Sobel(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_32F, 1, 1)
    assert split_component(mask >= 0.5, mask, np.abs(grad), SplitSettings()).max() == 1
    objects = split_objects(rgb, mask)
    assert len(objects) == 2 and all(o.suggested for o in objects)
    disk = objects[0].full_mask(mask.shape)
    assert disk[110, 200] and not disk[300, 200] and objects[1].full_mask(mask.shape)[300, 200]
    union = compose_alpha(objects, [1, 2], mask.shape)
    assert np.array_equal(union >= 0.5, mask >= 0.5)
    # no cut without a strong edge, and none when the setting asks for an impossible one
    assert len(split_objects(*_disk_and_bar((200, 40, 40), (200, 40, 40)))) == 1
    assert len(split_objects(rgb, mask, settings=SplitSettings(colour_edge=1e9))) == 1
    assert len(split_objects(rgb, mask, settings=SplitSettings(colour_cut=False))) == 1


def test_merging_weak_borders_measures_like_a_new_measurement_after_each_merge():
    from bgeraser_gui.core.object_split import _borders, _merge_weak_borders, _relabel

    rng = np.random.default_rng(3)
    labels = cv2.resize(rng.integers(1, 13, (6, 8)).astype(np.uint8), (160, 120),
                        interpolation=cv2.INTER_NEAREST).astype(np.int32)  # fmt: skip
    soft = rng.uniform(0.3, 1.0, labels.shape).astype(np.float32)
    grad = rng.uniform(0.0, 2.0, labels.shape).astype(np.float32)
    settings = SplitSettings(min_part=0.05, edge_ratio=1.0, valley=0.7)

    def measured_anew(labels):  # every border measured again after each merge
        labels = _relabel(labels)
        while True:
            areas, weakest, merge = np.bincount(labels.ravel()), None, None
            for (a, b), px in _borders(labels).items():
                small = min(areas[a], areas[b]) < settings.min_part * labels.size
                strength = max(float(grad[px].mean()), 0.7 / max(float(soft[px].mean()), 1e-6))
                key = (not small, strength if not small else -len(px[0]))
                if (small or strength < 1.0) and (weakest is None or key < weakest):
                    weakest, merge = key, (a, b)
            if merge is None:
                return _relabel(labels)
            labels[labels == max(merge)] = min(merge)

    fast = _merge_weak_borders(_relabel(labels), soft, grad, settings)
    assert 1 < fast.max() < 12
    assert np.array_equal(fast, measured_anew(labels.copy()))
