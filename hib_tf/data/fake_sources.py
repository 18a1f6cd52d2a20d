"""Writes small fake N-digit MNIST sources, for tests and the builder test.

The fake MNIST images are random noise with the digit's value stamped into a corner pixel,
so a test can tell which image landed where; the index tables follow the official recipe with
tiny totals. Nothing here is MNIST: it can be committed and regenerated freely.

  python -m hib_tf.data.fake_sources FOLDER
"""

import gzip
import struct
import sys

from etils import epath
import numpy as np

from hib_tf.data import recipe
from hib_tf.data import sources

# Tiny totals per (digits, gap): (train examples, test examples, min examples per number).
DUMMY_TOTALS = {
    (2, "number"): (140, 60, 2),
    (3, "number"): (200, 60, 2),
    (2, "instance"): (200, 100, 2),
    (3, "instance"): (2000, 1000, 2),
}


def fake_mnist(num_images, seed):
    """(uint8 [num_images, 28, 28] images, uint8 [num_images] labels), every digit present."""
    rng = np.random.RandomState(seed)
    labels = (np.arange(num_images) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.randint(0, 256, size=(num_images, 28, 28)).astype(np.uint8)
    images[:, 0, 0] = labels
    return images, labels


def write_idx(path, array, compress=True):
    """Writes an IDX file (gzip-compressed when `compress`), the format MNIST ships in."""
    magic = {1: 2049, 3: 2051}[array.ndim]
    data = struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()
    epath.Path(path).write_bytes(gzip.compress(data, mtime=0) if compress else data)


def write_table(path, table):
    with epath.Path(path).open("wb") as file:
        np.savez(
            file,
            sample_per_number=table.image_ids.shape[1],
            chosen_numbers=table.numbers,
            image_ids=table.image_ids,
        )


def write_fake_sources(folder, num_train=60, num_test=30, configs=DUMMY_TOTALS, seed=0):
    """Writes fake MNIST IDX files and index tables for `configs` into `folder`.

    Args:
      folder: output folder (created), flat layout.
      num_train, num_test: fake MNIST images per split; at least 10 x the largest number
        of examples per class, since each class draws distinct images per digit position.
      configs: dict (digits, gap) -> (train total, test total, min per number).
      seed: seed of both the images and the tables.

    Returns:
      dict with the fake MNIST arrays: {'train': (images, labels), 'test': (...)}.
    """
    folder = epath.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mnist = {"train": fake_mnist(num_train, seed), "test": fake_mnist(num_test, seed + 1)}
    for split, (images, labels) in mnist.items():
        write_idx(folder / (sources.MNIST_FILES[f"{split}_images"][0] + ".gz"), images)
        write_idx(folder / (sources.MNIST_FILES[f"{split}_labels"][0] + ".gz"), labels)
    for (digits, gap), (total_train, total_test, min_per_number) in configs.items():
        tables = recipe.make_index_tables(
            digits,
            gap,
            seed,
            mnist["train"][1],
            mnist["test"][1],
            total_train=total_train,
            total_test=total_test,
            min_per_number=min_per_number,
        )
        for split, table in tables.items():
            write_table(folder / sources.table_filename(digits, gap, split), table)
    return mnist


if __name__ == "__main__":
    write_fake_sources(sys.argv[1])
