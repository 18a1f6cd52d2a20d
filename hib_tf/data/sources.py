"""The raw sources of N-digit MNIST: the four MNIST IDX files and the official index tables.

Reading and validating them lives here, apart from the TFDS builder, so a missing, truncated
or corrupt file is reported the same way whether it was downloaded or supplied by hand, and
names the file and the fix.
"""

import dataclasses
import gzip
import hashlib
import os
import struct
import zipfile
import zlib

from etils import epath
import numpy as np

SOURCE_DIR_ENV = "N_DIGIT_MNIST_DIR"
"""Environment variable naming a local folder with the source files (offline use)."""

MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
TABLES_URL = "https://raw.githubusercontent.com/google/n-digit-mnist/master/standard_datasets/"

# SHA-256 and length of the *decompressed* MNIST files: copies in the wild are recompressed,
# so only the decompressed bytes identify the real MNIST.
MNIST_FILES = {
    "train_images": (
        "train-images-idx3-ubyte",
        47040016,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train_labels": (
        "train-labels-idx1-ubyte",
        60008,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "test_images": (
        "t10k-images-idx3-ubyte",
        7840016,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "test_labels": (
        "t10k-labels-idx1-ubyte",
        10008,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}

MNIST_FILENAMES = tuple(name for name, _, _ in MNIST_FILES.values())

# Sub-folders searched inside a source folder, so the layout of the official repository and
# of a flat folder both work.
_SEARCHED_SUBFOLDERS = ("", "mnist", "n_digit_mnist_standard", "standard_datasets")

_IDX_MAGIC = {2049: 1, 2051: 3}  # magic number -> number of dimensions.


class SourceError(ValueError):
    """A source file is missing, truncated or corrupt; the message names it and the fix."""


@dataclasses.dataclass(frozen=True)
class IndexTable:
    """Which MNIST images make up each example of one split.

    Attributes:
      numbers: int64 [classes], the number (class) spelled by each row.
      image_ids: int64 [classes, samples, N]; example j of class i concatenates the MNIST
        images image_ids[i, j, 0 .. N-1] (train tables index MNIST train, test tables MNIST
        test).
    """

    numbers: np.ndarray
    image_ids: np.ndarray


def table_filename(num_digits, gap, split):
    return f"dataset_mnist_{num_digits}_{gap}_{split}.npz"


def source_url(name):
    """Where the builder downloads a source file (MNIST as .gz) from."""
    if name.endswith(".npz"):
        return TABLES_URL + name
    return MNIST_URL + name + ".gz"


def missing_sources_message(missing):
    """Tells the user which files are missing and both ways to supply them."""
    listing = "\n".join(f"  - {name}" for name in missing)
    return (
        f"N-digit MNIST source files not found:\n{listing}\n"
        "Supply them in one of two ways:\n"
        "  1. with internet access, let the builder download them (no flags needed);\n"
        "  2. offline, put them in a folder (flat, or with mnist/ and n_digit_mnist_standard/"
        " sub-folders) and pass it as TFDS manual_dir "
        '(tfds.load(..., download_and_prepare_kwargs={"download_config": '
        "tfds.download.DownloadConfig(manual_dir=FOLDER)}) or `tfds build --manual_dir FOLDER`)"
        f", or set the environment variable {SOURCE_DIR_ENV}=FOLDER.\n"
        f"MNIST files come from {MNIST_URL} (the .gz or the decompressed IDX file); index "
        f"tables from {TABLES_URL}."
    )


def find_sources(folder, names):
    """Maps each wanted file name to its path inside `folder`.

    An IDX file may be given gzip-compressed (`name.gz`) or plain (`name`).

    Raises:
      SourceError: naming every file that is not there.
    """
    folder = epath.Path(folder)
    found, missing = {}, []
    for name in names:
        candidates = [folder / sub / name for sub in _SEARCHED_SUBFOLDERS]
        if not name.endswith(".npz"):
            candidates = [c.with_name(c.name + ".gz") for c in candidates] + candidates
        path = next((c for c in candidates if c.exists()), None)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    if missing:
        raise SourceError(f"In folder {folder}: " + missing_sources_message(missing))
    return found


def _read_bytes(path):
    """Reads a file, decompressing gzip; a truncated or corrupt archive names the file."""
    data = epath.Path(path).read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as error:
        raise SourceError(
            f"{path} is a truncated or corrupt gzip file ({error}); download it again."
        ) from error


def read_idx(path, expected=None):
    """Reads an MNIST IDX file (images or labels) into a uint8 array.

    Args:
      path: the file, gzip-compressed or plain.
      expected: optional (length, sha256) of the decompressed bytes. The digest is only
        checked when the file has the real MNIST's length, so small test files still load,
        while a damaged full-size MNIST file is caught.

    Returns:
      uint8 [count, 28, 28] for images, [count] for labels.

    Raises:
      SourceError: on a wrong magic number, a wrong length or a wrong digest.
    """
    data = _read_bytes(path)
    magic = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else None
    if magic not in _IDX_MAGIC:
        raise SourceError(f"{path} is not an MNIST IDX file (magic number {magic}).")
    rank = _IDX_MAGIC[magic]
    header = 4 + 4 * rank
    shape = struct.unpack(f">{rank}I", data[4:header])
    if len(data) != header + int(np.prod(shape)):
        raise SourceError(
            f"{path} is truncated or corrupt: header says {shape}, which needs "
            f"{header + int(np.prod(shape))} bytes, but it has {len(data)}; download it again."
        )
    if expected is not None and len(data) == expected[0]:
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected[1]:
            raise SourceError(
                f"{path} has the length of the real MNIST file but the wrong SHA-256 ({digest}, "
                f"expected {expected[1]}): it is corrupt; download it again."
            )
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_mnist(paths, split):
    """Loads MNIST `split` ('train' or 'test') as (images uint8 [n, 28, 28], labels [n]).

    Args:
      paths: dict from MNIST file name (see MNIST_FILES) to its path.
      split: 'train' or 'test'.
    """
    images_name, *images_expected = MNIST_FILES[f"{split}_images"]
    labels_name, *labels_expected = MNIST_FILES[f"{split}_labels"]
    images = read_idx(paths[images_name], images_expected)
    labels = read_idx(paths[labels_name], labels_expected)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise SourceError(
            f"{paths[images_name]} and {paths[labels_name]} do not match: images "
            f"{images.shape}, labels {labels.shape}."
        )
    return images, labels


def read_index_table(path, num_digits, num_mnist_images):
    """Loads and checks an official index table (`.npz`, see module docstring).

    Raises:
      SourceError: if the file is not a readable table for `num_digits` digits whose ids
        index an MNIST split of `num_mnist_images` images.
    """
    try:
        with np.load(epath.Path(path).open("rb")) as table:
            numbers = np.asarray(table["chosen_numbers"], np.int64)
            image_ids = np.asarray(table["image_ids"], np.int64)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise SourceError(
            f"{path} is not a readable N-digit MNIST index table ({error}); download it again."
        ) from error
    if (
        image_ids.ndim != 3
        or image_ids.shape[0] != len(numbers)
        or image_ids.shape[2] != num_digits
    ):
        raise SourceError(
            f"{path}: image_ids has shape {image_ids.shape}, expected "
            f"[{len(numbers)}, samples, {num_digits}]."
        )
    if image_ids.size and (image_ids.min() < 0 or image_ids.max() >= num_mnist_images):
        raise SourceError(
            f"{path} indexes MNIST images outside 0 .. {num_mnist_images - 1}: it does not "
            "belong to these MNIST files."
        )
    return IndexTable(numbers=numbers, image_ids=image_ids)


def source_folder_from_env():
    """The folder named by `N_DIGIT_MNIST_DIR`, or None if the variable is unset."""
    value = os.environ.get(SOURCE_DIR_ENV)
    return epath.Path(value) if value else None
