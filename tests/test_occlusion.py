"""The occlusion op against SPEC.md section 2: statistics, geometry and determinism."""

import numpy as np
import pytest
import tensorflow as tf

from hib_tf.data import occlusion

DRAWS = 4000


def _boxes(probability, num_digits=3, seed=(1, 2), batch=DRAWS):
    return occlusion.sample_occlusion_boxes(
        tf.constant(seed), batch, num_digits, probability
    ).numpy()


@pytest.mark.parametrize("probability", [0.2, 0.5])
def test_fraction_of_occluded_digits_is_probability(probability):
    boxes = _boxes(probability)
    occluded = boxes[..., 2] > boxes[..., 0]  # Non-empty squares.
    # Side 0 is drawn with chance 1/29 and leaves the digit visible.
    expected = probability * 28 / 29
    assert abs(occluded.mean() - expected) < 4 * np.sqrt(expected / occluded.size)


def test_every_box_is_a_square_inside_its_digit():
    boxes = _boxes(1.0)
    top, left, bottom, right = np.moveaxis(boxes, -1, 0)
    digit_left = 28 * np.arange(3)
    np.testing.assert_array_equal(bottom - top, right - left)
    assert (top >= 0).all() and (bottom <= 28).all()
    assert (left >= digit_left).all() and (right <= digit_left + 28).all()


def test_side_length_spreads_over_0_to_28():
    sides = (_boxes(1.0)[..., 2] - _boxes(1.0)[..., 0]).ravel()
    counts = np.bincount(sides, minlength=29)
    assert len(counts) == 29  # Never larger than a digit.
    expected = sides.size / 29
    assert (np.abs(counts - expected) < 5 * np.sqrt(expected)).all(), counts
    assert abs(sides.mean() - 14) < 0.3


def test_corner_is_uniform_over_the_room_left():
    boxes = _boxes(1.0, num_digits=1, batch=20000)[:, 0]
    side = boxes[:, 2] - boxes[:, 0]
    small = side == 4  # Room for corners 0 .. 24.
    counts = np.bincount(boxes[small, 0], minlength=25)
    assert len(counts) == 25 and (counts > 0).all()


def test_occlude_zeroes_exactly_the_boxes():
    images = tf.fill([64, 28, 56, 1], tf.constant(200, tf.uint8))
    corrupt, boxes = occlusion.occlude(images, tf.constant([3, 4]), 1.0)
    corrupt, boxes = corrupt.numpy(), boxes.numpy()
    expected = np.full((64, 28, 56, 1), 200, np.uint8)
    for image, image_boxes in zip(expected, boxes):
        for top, left, bottom, right in image_boxes:
            image[top:bottom, left:right] = 0
    np.testing.assert_array_equal(corrupt, expected)
    assert corrupt.dtype == np.uint8


def test_float_images_keep_their_dtype():
    corrupt, _ = occlusion.occlude(tf.ones([2, 28, 28, 1]), tf.constant([0, 0]), 1.0)
    assert corrupt.dtype == tf.float32


def test_same_seed_same_occlusion_other_seed_other_occlusion():
    first, second, other = (_boxes(0.5, seed=seed) for seed in [(7, 7), (7, 7), (7, 8)])
    np.testing.assert_array_equal(first, second)
    assert (first != other).any()


def test_probability_zero_leaves_images_untouched():
    images = tf.random.stateless_uniform([8, 28, 84, 1], seed=[0, 1])
    corrupt, _ = occlusion.occlude(images, tf.constant([1, 1]), 0.0)
    np.testing.assert_array_equal(corrupt.numpy(), images.numpy())


def test_wrong_image_shape_is_refused():
    with pytest.raises(ValueError, match=r"\[B, 28, 28 \* N, 1\]"):
        occlusion.occlude(tf.zeros([2, 28, 30, 1]), tf.constant([0, 0]))
