"""The training input pipeline: TFDS examples -> class-balanced, occluded batches.

Every pair of images in a batch is a training pair, and matching pairs are rare among random
images (1 in 70 for 2 digits, 1 in 700 for 3). So each batch mixes two streams (SPEC.md
section 4): one of random images, and one of `classes_per_batch` classes with
`images_per_class` images each, which alone guarantees
classes_per_batch * C(images_per_class, 2) positive pairs (96 by default). The two halves are
shuffled together, then each digit is occluded with probability 0.2, drawn afresh for every
batch, and images are scaled to [0, 1].

Randomness comes from `seed` only: shuffles are seeded and occlusion uses stateless seeds
(seed, batch index), so the same seed and the same input give the same batches.
"""

import tensorflow as tf
import tensorflow_datasets as tfds

from hib_tf.data import occlusion

DEFAULT_BATCH_SIZE = 128
DEFAULT_OCCLUSION_PROBABILITY = 0.2


def load_split(digits=2, gap='number', split='train', *, data_dir=None, manual_dir=None):
  """The `n_digit_mnist` split as a tf.data.Dataset of example dicts, built if needed.

  Args:
    digits: 2 or 3 (the official standard configs).
    gap: 'number' or 'instance'.
    split: e.g. 'train', 'test_seen', 'test_unseen' or 'test'.
    data_dir: TFDS data folder (TFDS's default when None).
    manual_dir: local folder with the source files, for offline builds.
  """
  download_config = tfds.download.DownloadConfig(manual_dir=manual_dir)
  return tfds.load(f'n_digit_mnist/{digits}digit_{gap}', split=split, data_dir=data_dir,
                   shuffle_files=False,
                   download_and_prepare_kwargs={'download_config': download_config})


def training_batches(examples, *, batch_size=DEFAULT_BATCH_SIZE, classes_per_batch=16,
                     images_per_class=4,
                     occlusion_probability=DEFAULT_OCCLUSION_PROBABILITY, seed=0,
                     shuffle_buffer=10_000, cache=True):
  """An endless dataset of training batches.

  Args:
    examples: tf.data.Dataset of dicts with 'image' (uint8 [28, 28N, 1]) and 'label'.
    batch_size: images per batch; must exceed classes_per_batch * images_per_class, the
      class-balanced half (the rest are random images).
    classes_per_batch, images_per_class: shape of the class-balanced stream.
    occlusion_probability: chance that each digit is occluded, per use of the image.
    seed: int; the same seed gives the same batches.
    shuffle_buffer: shuffle buffer of each stream, in images.
    cache: keep decoded images in memory after the first pass (100k images of 2 digits
      take ~160 MB), so PNG decoding is paid once.

  Returns:
    tf.data.Dataset of (images float32 [batch_size, 28, 28N, 1] in [0, 1],
    labels int64 [batch_size]), prefetched.
  """
  grouped_size = classes_per_batch * images_per_class
  if not 0 < grouped_size < batch_size:
    raise ValueError(
        f'classes_per_batch * images_per_class = {grouped_size} must be positive and '
        f'smaller than batch_size = {batch_size}.')
  pairs = examples.map(lambda example: (example['image'], example['label']),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if cache:
    pairs = pairs.cache()

  def shuffled(stream_seed):
    return pairs.shuffle(shuffle_buffer, seed=stream_seed,
                         reshuffle_each_iteration=True).repeat()

  random_images = shuffled(seed * 2).batch(batch_size - grouped_size, drop_remainder=True)
  same_class = shuffled(seed * 2 + 1).group_by_window(
      key_func=lambda image, label: tf.cast(label, tf.int64),
      reduce_func=lambda key, window: window.batch(images_per_class, drop_remainder=True),
      window_size=images_per_class)
  same_class = same_class.batch(classes_per_batch, drop_remainder=True).map(
      lambda images, labels: (tf.reshape(images, [grouped_size, *images.shape[2:]]),
                              tf.reshape(labels, [grouped_size])))

  def combine(batch_index, streams):
    (images_a, labels_a), (images_b, labels_b) = streams
    batch_seed = tf.stack([tf.cast(seed, tf.int64), batch_index])
    order = tf.random.experimental.stateless_shuffle(
        tf.range(batch_size), seed=batch_seed)
    images = tf.gather(tf.concat([images_a, images_b], 0), order)
    labels = tf.gather(tf.concat([labels_a, labels_b], 0), order)
    images, _ = occlusion.occlude(
        images, tf.random.experimental.stateless_fold_in(batch_seed, 1),
        occlusion_probability)
    return tf.cast(images, tf.float32) / 255.0, tf.cast(labels, tf.int64)

  batches = tf.data.Dataset.zip(random_images, same_class).enumerate()
  return batches.map(combine, num_parallel_calls=tf.data.AUTOTUNE,
                     deterministic=True).prefetch(tf.data.AUTOTUNE)
