"""The training input pipeline: batch contents, positive pairs, occlusion, determinism."""

import numpy as np
import pytest
import tensorflow as tf

from hib_tf.data import pipeline


def _examples(num_classes=40, per_class=12, digits=2):
    """Example dicts like the TFDS split: image pixel (0, 0) encodes the example index."""
    count = num_classes * per_class
    images = np.full((count, 28, 28 * digits, 1), 255, np.uint8)
    images[:, 0, 0, 0] = np.arange(count) % 256
    labels = np.repeat(np.arange(num_classes), per_class)
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})


def _take(dataset, count):
    return [(images.numpy(), labels.numpy()) for images, labels in dataset.take(count)]


@pytest.mark.parametrize("digits", [1, 2, 3])
def test_batches_have_the_right_shape_range_and_dtype(digits):
    images, labels = _take(pipeline.training_batches(_examples(digits=digits)), 1)[0]
    assert images.shape == (128, 28, 28 * digits, 1) and images.dtype == np.float32
    assert labels.shape == (128,) and labels.dtype == np.int64
    assert images.min() >= 0.0 and images.max() == 1.0


def test_every_batch_has_at_least_16_positive_pairs():
    # 400 classes: random pairs alone would give ~20 positives per batch of 128.
    batches = _take(pipeline.training_batches(_examples(num_classes=400, per_class=6)), 40)
    for _, labels in batches:
        same = labels[:, None] == labels[None, :]
        positives = (same.sum() - len(labels)) // 2
        assert positives >= 16


def test_batches_mix_random_and_grouped_images():
    _, labels = _take(pipeline.training_batches(_examples(num_classes=400, per_class=6)), 1)[0]
    _, counts = np.unique(labels, return_counts=True)
    assert (counts >= 4).sum() >= 16  # The grouped stream.
    assert len(counts) > 16 + 32  # Plus random images from many other classes.
    assert not (np.diff(labels) == 0).all()  # Shuffled together.


def test_occlusion_rate_per_digit_matches_probability():
    batches = _take(pipeline.training_batches(_examples(), occlusion_probability=0.5), 20)
    images = np.concatenate([images for images, _ in batches])
    digit_touched = (images[:, 1:].reshape(len(images), 27, 2, 28) == 0).any(axis=(1, 3))
    # A drawn square of side 0 leaves its digit untouched: chance 1/29.
    assert abs(digit_touched.mean() - 0.5 * 28 / 29) < 0.03


def test_same_seed_same_batches_other_seed_other_batches():
    first, second, other = (
        _take(pipeline.training_batches(_examples(), seed=seed), 3) for seed in (5, 5, 6)
    )
    for (images_a, labels_a), (images_b, labels_b) in zip(first, second):
        np.testing.assert_array_equal(images_a, images_b)
        np.testing.assert_array_equal(labels_a, labels_b)
    assert any((a[1] != b[1]).any() for a, b in zip(first, other))


def test_occlusion_is_drawn_afresh_each_time_an_image_is_used():
    batches = _take(
        pipeline.training_batches(
            _examples(num_classes=2, per_class=10),
            classes_per_batch=2,
            images_per_class=4,
            batch_size=16,
            occlusion_probability=1.0,
        ),
        30,
    )
    seen = {}
    for images, _ in batches:
        for image in images:
            if image[0, 0, 0]:  # The example's index survived occlusion, so it identifies it.
                seen.setdefault(image[0, 0, 0], set()).add(image.tobytes())
    assert max(len(variants) for variants in seen.values()) > 1


def test_bad_stream_sizes_are_refused():
    with pytest.raises(ValueError, match="smaller than batch_size"):
        pipeline.training_batches(
            _examples(), batch_size=64, classes_per_batch=16, images_per_class=4
        )


def test_start_step_resumes_with_the_batches_a_run_would_have_had():
    full = _take(pipeline.training_batches(_examples(), seed=3), 6)
    resumed = _take(pipeline.training_batches(_examples(), seed=3, start_step=4), 2)
    for (images_a, labels_a), (images_b, labels_b) in zip(full[4:], resumed):
        np.testing.assert_array_equal(images_a, images_b)
        np.testing.assert_array_equal(labels_a, labels_b)


def test_grouped_images_of_a_class_are_distinct():
    # 16 classes of exactly 4 images: every class in the batch must show all 4.
    images, labels = _take(
        pipeline.training_batches(
            _examples(num_classes=16, per_class=4), occlusion_probability=0.0
        ),
        1,
    )[0]
    example_ids = np.round(images[:, 0, 0, 0] * 255).astype(int)
    for label in range(16):
        assert set(example_ids[labels == label]) == set(range(4 * label, 4 * label + 4))


def test_too_few_classes_for_the_grouped_stream_is_refused():
    with pytest.raises(ValueError, match="Lower classes_per_batch"):
        pipeline.training_batches(_examples(num_classes=10, per_class=12))
