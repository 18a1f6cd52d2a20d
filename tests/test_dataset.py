"""The n_digit_mnist dataset: assembly, corrupt twins, splits and counts (SPEC.md section 1)."""

import collections

import numpy as np
import pytest
import tensorflow_datasets as tfds

from conftest import SHARED_DATA, requires_shared_data
from hib_tf.data import occlusion
from hib_tf.data import recipe
from hib_tf.data import sources


def _examples(builder, split):
    return list(tfds.as_numpy(builder.as_dataset(split=split)))


def _assembled(mnist_images, ids):
    return np.concatenate(list(mnist_images[ids]), axis=1)[..., None]


def _check_examples(examples, mnist_images, table, digits):
    """Each example is the concatenation its table row names, with a consistent twin."""
    rows = {
        (int(number), tuple(ids))
        for number, class_ids in zip(table.numbers, table.image_ids)
        for ids in class_ids
    }
    for example in examples:
        ids = example["mnist_ids"]
        assert (int(example["label"]), tuple(ids)) in rows
        np.testing.assert_array_equal(example["image"], _assembled(mnist_images, ids))
        np.testing.assert_array_equal(
            example["digits"], recipe.number_digits(example["label"], digits)
        )
        twin = occlusion.apply_occlusion_boxes(
            example["image"][None], example["occlusion_boxes"][None]
        )
        np.testing.assert_array_equal(example["image_corrupt"], twin.numpy()[0])


def test_examples_are_the_concatenations_their_tables_name(fake_builder, fake_source_dir):
    folder, mnist = fake_source_dir
    for split in ("train", "test_seen", "test_unseen"):
        table = sources.read_index_table(
            folder / sources.table_filename(2, "number", split), 2, 10**6
        )
        mnist_split = "train" if split == "train" else "test"
        examples = _examples(fake_builder, split)
        assert len(examples) == table.image_ids.shape[0] * table.image_ids.shape[1]
        _check_examples(examples, mnist[mnist_split][0], table, digits=2)


def test_corrupt_twin_occludes_every_digit_inside_the_digit(fake_builder):
    boxes = np.stack([e["occlusion_boxes"] for e in _examples(fake_builder, "test_seen")])
    top, left, bottom, right = np.moveaxis(boxes, -1, 0)
    assert ((left >= [0, 28]) & (right <= [28, 56]) & (top >= 0) & (bottom <= 28)).all()
    sides = bottom - top
    assert sides.max() > 14 and sides.min() < 14  # Drawn, not constant.


def test_rebuilding_gives_identical_corrupt_twins(fake_builder, fake_source_dir, tmp_path):
    folder, _ = fake_source_dir
    again = tfds.builder("n_digit_mnist/2digit_number", data_dir=tmp_path)
    again.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(folder)))
    key = lambda e: tuple(e["mnist_ids"])
    first = {key(e): e["image_corrupt"] for e in _examples(fake_builder, "test_unseen")}
    second = {key(e): e["image_corrupt"] for e in _examples(again, "test_unseen")}
    assert first.keys() == second.keys()
    for ids, image in first.items():
        np.testing.assert_array_equal(image, second[ids])


def test_number_gap_keeps_unseen_classes_out_of_train(fake_builder):
    labels = {
        split: {int(e["label"]) for e in _examples(fake_builder, split)}
        for split in ("train", "test_seen", "test_unseen")
    }
    assert labels["test_seen"] <= labels["train"]
    assert not labels["test_unseen"] & labels["train"]


@pytest.fixture(
    scope="module",
    params=[
        (2, {"train": (70, 1428), "test_seen": (70, 142), "test_unseen": (30, 333)}),
        (3, {"train": (700, 142), "test_seen": (100, 100), "test_unseen": (100, 100)}),
    ],
    ids=["2digit", "3digit"],
)
def real_build(request, tmp_path_factory):
    digits, expected = request.param
    builder = tfds.builder(
        f"n_digit_mnist/{digits}digit_number", data_dir=tmp_path_factory.mktemp("real")
    )
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(SHARED_DATA))
    )
    return digits, expected, builder


@requires_shared_data()
def test_real_standard_dataset_has_the_official_sizes(real_build):
    digits, expected, builder = real_build
    paths = sources.find_sources(SHARED_DATA, sources.MNIST_FILENAMES)
    mnist = {split: sources.read_mnist(paths, split)[0] for split in ("train", "test")}
    for split, (classes, per_class) in expected.items():
        assert builder.info.splits[split].num_examples == classes * per_class
        skip = tfds.decode.SkipDecoding()
        labels = np.concatenate(
            [
                batch["label"]
                for batch in tfds.as_numpy(
                    builder.as_dataset(
                        split=split,
                        batch_size=10_000,
                        decoders={"image": skip, "image_corrupt": skip},
                    )
                )
            ]
        )
        counts = collections.Counter(labels.tolist())
        assert len(counts) == classes and set(counts.values()) == {per_class}
        table = sources.read_index_table(
            SHARED_DATA
            / "n_digit_mnist_standard"
            / sources.table_filename(digits, "number", split),
            digits,
            60_000,
        )
        sample = _examples(builder, f"{split}[:300]")
        _check_examples(sample, mnist["train" if split == "train" else "test"], table, digits)
