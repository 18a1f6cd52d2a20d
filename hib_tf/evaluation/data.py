"""Test data for evaluation: the clean and corrupt twins of a split, and seeded verification pairs."""

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from hib_tf.data.pipeline import dataset_name

TWINS = ("clean", "corrupt")
_TWIN_FEATURES = {"clean": "image", "corrupt": "image_corrupt"}


class EvaluationError(ValueError):
    """An input (SavedModel, dataset, flag) cannot be evaluated; the message says why."""


@dataclasses.dataclass(frozen=True)
class SplitTwins:
    """One test split in memory.

    Attributes:
      images: dict twin -> uint8 [M, 28, 28 N, 1]; ``corrupt`` is the dataset's fixed occluded
        copy of ``clean``, image for image.
      labels: int64 [M], class ids (the numbers the images spell).
      ids: int64 [M], each image's position in the full split (noise and subsamples key on it).
    """

    images: dict
    labels: np.ndarray
    ids: np.ndarray


def test_splits(gap):
    """The test splits of a gap protocol, in report order."""
    return ("test_seen", "test_unseen") if gap == "number" else ("test",)


def load_twins(digits, gap, split, data_dir=None, manual_dir=None, max_images=None, seed=0):
    """Loads a test split's images, corrupt twins and labels, building the dataset if needed.

    Args:
      digits: N; gap: ``number`` or ``instance``; split: a split of that config.
      data_dir: TFDS data folder (TFDS's default when None).
      manual_dir: local folder of the source files, for an offline build.
      max_images: optional size of a seeded random subsample (for quick looks).
      seed: seed of the subsample.

    Returns:
      SplitTwins.

    Raises:
      EvaluationError: if the split does not exist.
    """
    builder = tfds.builder(dataset_name(digits, gap), data_dir=data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
    )
    if split not in builder.info.splits:
        raise EvaluationError(
            f"{dataset_name(digits, gap)} has no split {split!r}; its splits are "
            f"{sorted(builder.info.splits)}."
        )
    examples = builder.as_dataset(split=split, shuffle_files=False).map(
        lambda example: (example["image"], example["image_corrupt"], example["label"])
    )
    parts = [[], [], []]
    for batch in examples.batch(4096).prefetch(1):
        for part, tensor in zip(parts, batch):
            part.append(tensor.numpy())
    clean, corrupt, labels = (np.concatenate(part) for part in parts)
    ids = np.arange(len(labels))
    if max_images is not None and max_images < len(ids):
        ids = np.sort(np.random.default_rng(seed).choice(len(ids), max_images, replace=False))
    return SplitTwins(
        images={"clean": clean[ids], "corrupt": corrupt[ids]},
        labels=labels[ids].astype(np.int64),
        ids=ids,
    )


def verification_pairs(labels, num_pairs, seed):
    """Seeded test pairs, half matching and half not (paper section 4.3).

    The first image of each pair is uniform over the images (over those with a classmate, for
    matching pairs); the second is uniform over its classmates or over the images of other
    classes. Pairs are drawn with replacement, never an image with itself; both twins are scored
    on the same pairs.

    Args:
      labels: int [M] class ids.
      num_pairs: P; ``P // 2`` matching pairs come first, then ``P - P // 2`` non-matching.
      seed: int.

    Returns:
      ``(first, second, is_match)``: int64 [P], int64 [P], bool [P].

    Raises:
      EvaluationError: if no class has two images, or all images share one class.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    classes, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    if counts.max() < 2 or len(classes) < 2:
        raise EvaluationError(
            "Verification pairs need a class with two images and at least two classes; got "
            f"{len(labels)} images of {len(classes)} classes."
        )
    num_matching = num_pairs // 2
    position = np.empty(len(labels), np.int64)  # Rank of each image within its class.
    position[order] = np.arange(len(labels)) - np.repeat(starts, counts)
    class_of = np.searchsorted(classes, labels)
    candidates = np.flatnonzero(counts[class_of] >= 2)
    first = rng.choice(candidates, num_matching)
    count = counts[class_of[first]]
    shift = 1 + rng.integers(0, count - 1)  # A classmate other than the image itself.
    second = order[starts[class_of[first]] + (position[first] + shift) % count]
    other_first = rng.integers(0, len(labels), num_pairs - num_matching)
    other_second = rng.integers(0, len(labels), num_pairs - num_matching)
    while np.any(same := labels[other_first] == labels[other_second]):
        other_second[same] = rng.integers(0, len(labels), same.sum())
    return (
        np.r_[first, other_first].astype(np.int64),
        np.r_[second, other_second].astype(np.int64),
        np.r_[np.ones(num_matching, bool), np.zeros(num_pairs - num_matching, bool)],
    )
