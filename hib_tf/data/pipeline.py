"""The training input pipeline: TFDS examples -> class-balanced, occluded batches.

Every pair of images in a batch is a training pair, and matching pairs are rare among random
images (1 in 70 for 2 digits, 1 in 700 for 3). So each batch mixes two streams (SPEC.md
section 4): random images, and `classes_per_batch` distinct classes with `images_per_class`
distinct images each, which alone guarantees
classes_per_batch * C(images_per_class, 2) positive pairs (96 by default). The two are
shuffled together, each digit is occluded with probability 0.2, drawn afresh for every batch,
and images are scaled to [0, 1].

The split is decoded into memory once (100k 2-digit images take ~160 MB) and each batch is
drawn by index with stateless seeds (seed, step). Batch t therefore depends only on (seed, t):
the pipeline is deterministic, a resumed run continues with exactly the batches it would have
had (`start_step`), and no per-image tf.data work limits throughput.
"""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from hib_tf.data import occlusion

DEFAULT_BATCH_SIZE = 128
DEFAULT_OCCLUSION_PROBABILITY = 0.2


def dataset_name(digits, gap):
    """The TFDS name of a standard config, e.g. ``n_digit_mnist/2digit_number``."""
    return f"n_digit_mnist/{digits}digit_{gap}"


def load_split(digits=2, gap="number", split="train", *, data_dir=None, manual_dir=None):
    """The `n_digit_mnist` split as a tf.data.Dataset of example dicts, built if needed.

    The corrupt twin is left encoded: training draws its own occlusion.

    Args:
      digits: 2 or 3 (the official standard configs).
      gap: 'number' or 'instance'.
      split: e.g. 'train', 'test_seen', 'test_unseen' or 'test'.
      data_dir: TFDS data folder (TFDS's default when None).
      manual_dir: local folder with the source files, for offline builds.
    """
    download_config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    return tfds.load(
        dataset_name(digits, gap),
        split=split,
        data_dir=data_dir,
        shuffle_files=False,
        decoders={"image_corrupt": tfds.decode.SkipDecoding()},
        download_and_prepare_kwargs={"download_config": download_config},
    )


def load_into_memory(examples):
    """(uint8 [M, 28, 28N, 1] images, int64 [M] labels) of a dataset of example dicts."""
    pairs = examples.map(
        lambda example: (example["image"], example["label"]),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    images, labels = [], []
    for image_batch, label_batch in pairs.batch(8192).prefetch(2):
        images.append(image_batch.numpy())
        labels.append(label_batch.numpy())
    if not images:
        raise ValueError("The training split is empty.")
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def class_members(labels, min_count):
    """Indices of each class's examples, for classes with at least `min_count` of them.

    Returns:
      int64 [classes, max_count] example indices, padded with -1.
    """
    classes, counts = np.unique(labels, return_counts=True)
    classes = classes[counts >= min_count]
    members = [np.flatnonzero(labels == label) for label in classes]
    table = np.full((len(members), max((len(m) for m in members), default=0)), -1, np.int64)
    for row, indices in enumerate(members):
        table[row, : len(indices)] = indices
    return table


def training_batches(
    examples,
    *,
    batch_size=DEFAULT_BATCH_SIZE,
    classes_per_batch=16,
    images_per_class=4,
    occlusion_probability=DEFAULT_OCCLUSION_PROBABILITY,
    seed=0,
    start_step=0,
):
    """An endless dataset of training batches; see the module docstring.

    Args:
      examples: tf.data.Dataset of dicts with 'image' (uint8 [28, 28N, 1]) and 'label'.
      batch_size: images per batch; must exceed classes_per_batch * images_per_class, the
        class-balanced part (the rest are random images).
      classes_per_batch, images_per_class: shape of the class-balanced stream.
      occlusion_probability: chance that each digit is occluded, per use of the image.
      seed: int; the same seed gives the same batches.
      start_step: index of the first batch, to resume a run where it stopped.

    Returns:
      tf.data.Dataset of (images float32 [batch_size, 28, 28N, 1] in [0, 1],
      labels int64 [batch_size]), prefetched.

    Raises:
      ValueError: if the stream sizes do not fit the batch or the split has too few classes
        with `images_per_class` examples.
    """
    grouped_size = classes_per_batch * images_per_class
    if not 0 < grouped_size < batch_size:
        raise ValueError(
            f"classes_per_batch * images_per_class = {grouped_size} must be positive and "
            f"smaller than batch_size = {batch_size}."
        )
    images, labels = load_into_memory(examples)
    members = class_members(labels, images_per_class)
    if len(members) < classes_per_batch:
        raise ValueError(
            f"The split has {len(members)} classes with at least {images_per_class} images; "
            f"classes_per_batch = {classes_per_batch} needs more. Lower classes_per_batch."
        )
    images, labels, members = (tf.constant(images), tf.constant(labels), tf.constant(members))

    def batch_at(step):
        seeds = tf.random.experimental.stateless_split(
            tf.stack([tf.constant(seed, tf.int64), step]), num=5
        )
        random_ids = tf.random.stateless_uniform(
            [batch_size - grouped_size],
            seeds[0],
            minval=0,
            maxval=tf.shape(labels, tf.int64)[0],
            dtype=tf.int64,
        )
        # Top-k of uniform keys is a uniform draw without replacement.
        classes = tf.math.top_k(
            tf.random.stateless_uniform([tf.shape(members)[0]], seeds[1]), classes_per_batch
        ).indices
        candidates = tf.gather(members, classes)  # [classes_per_batch, max_count]
        keys = tf.random.stateless_uniform(tf.shape(candidates), seeds[2])
        picks = tf.math.top_k(tf.where(candidates >= 0, keys, -1.0), images_per_class).indices
        grouped_ids = tf.reshape(tf.gather(candidates, picks, batch_dims=1), [-1])
        ids = tf.random.experimental.stateless_shuffle(
            tf.concat([random_ids, grouped_ids], 0), seeds[3]
        )
        batch, _ = occlusion.occlude(tf.gather(images, ids), seeds[4], occlusion_probability)
        return tf.cast(batch, tf.float32) / 255.0, tf.gather(labels, ids)

    steps = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max)
    return steps.map(batch_at, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
        tf.data.AUTOTUNE
    )
