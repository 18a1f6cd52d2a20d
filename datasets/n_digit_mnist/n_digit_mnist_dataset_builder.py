"""n_digit_mnist: N MNIST digits side by side, with a fixed occluded twin of every example."""

import dataclasses
import functools
import socket
import urllib.parse

from etils import epath
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from hib_tf.data import occlusion
from hib_tf.data import recipe
from hib_tf.data import sources

_STANDARD_DIGITS = (2, 3)
_OFFICIAL_SEED = 714  # The official generator's default seed; it reproduces its tables.
_REACH_TIMEOUT_S = 5


@dataclasses.dataclass(eq=False)
class NDigitMnistConfig(tfds.core.BuilderConfig):
    """A dataset of `digits`-digit numbers split by `gap`.

    Attributes:
      digits: N, digits per image; images are 28 x 28N.
      gap: 'number' (train and test classes apart; splits train / test_seen / test_unseen)
        or 'instance' (all classes everywhere; splits train / test).
      seed: seed of the official recipe for index tables (unused by the standard tables).
      standard: read the official published tables (2 and 3 digits only) instead of drawing
        tables with the recipe.
      occlusion_seed: seed of the fixed corrupt twins.
      total_train, total_test, min_per_number: the recipe's split sizes (official defaults).
    """

    digits: int = 2
    gap: str = "number"
    seed: int = _OFFICIAL_SEED
    standard: bool = True
    occlusion_seed: int = 0
    total_train: int = 100_000
    total_test: int = 10_000
    min_per_number: int = 100

    @classmethod
    def from_parameters(cls, digits, gap="number", seed=_OFFICIAL_SEED, **recipe_sizes):
        """A config for any N, drawn with the official recipe from `seed`.

        Args:
          digits: N >= 1.
          gap: 'number' or 'instance'.
          seed: the recipe's seed.
          **recipe_sizes: optional occlusion_seed, total_train, total_test, min_per_number.
        """
        recipe.split_names(gap)  # Validates the gap.
        if digits < 1:
            raise ValueError(f"digits must be >= 1, got {digits}.")
        return cls(
            name=f"{digits}digit_{gap}_seed{seed}",
            digits=digits,
            gap=gap,
            seed=seed,
            standard=False,
            description=(f"{digits}-digit numbers, {gap} gap, official recipe with seed {seed}."),
            **recipe_sizes,
        )


def _standard_config(digits, gap):
    return NDigitMnistConfig(
        name=f"{digits}digit_{gap}",
        digits=digits,
        gap=gap,
        description=f"The official standard {digits}-digit dataset, {gap} gap.",
    )


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for n_digit_mnist."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        _standard_config(digits, gap)
        for digits in _STANDARD_DIGITS
        for gap in ("number", "instance")
    ]
    DEFAULT_CONFIG_NAME = "2digit_number"
    MANUAL_DOWNLOAD_INSTRUCTIONS = sources.missing_sources_message(["(all source files)"])

    def _info(self) -> tfds.core.DatasetInfo:
        digits = self.builder_config.digits
        image = tfds.features.Image(shape=(28, 28 * digits, 1), encoding_format="png")
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": image,
                    "image_corrupt": image,
                    "occlusion_boxes": tfds.features.Tensor(shape=(digits, 4), dtype=np.int32),
                    "label": tfds.features.ClassLabel(
                        names=[f"{n:0{digits}d}" for n in range(10**digits)]
                    ),
                    "digits": tfds.features.Tensor(shape=(digits,), dtype=np.int64),
                    "mnist_ids": tfds.features.Tensor(shape=(digits,), dtype=np.int64),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://github.com/google/n-digit-mnist",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        splits = recipe.split_names(config.gap)
        table_names = (
            [sources.table_filename(config.digits, config.gap, split) for split in splits]
            if config.standard
            else []
        )
        paths = self._source_paths(dl_manager, [*sources.MNIST_FILENAMES, *table_names])
        mnist = {split: sources.read_mnist(paths, split) for split in ("train", "test")}
        if config.standard:
            tables = {
                split: sources.read_index_table(
                    paths[name], config.digits, len(mnist[_mnist_split(split)][0])
                )
                for split, name in zip(splits, table_names)
            }
        else:
            tables = recipe.make_index_tables(
                config.digits,
                config.gap,
                config.seed,
                mnist["train"][1],
                mnist["test"][1],
                total_train=config.total_train,
                total_test=config.total_test,
                min_per_number=config.min_per_number,
            )
        return {
            split: self._generate_examples(
                mnist[_mnist_split(split)][0], tables[split], split_index=index
            )
            for index, split in enumerate(splits)
        }

    def _source_paths(self, dl_manager, names):
        """Finds the source files: manual_dir, then $N_DIGIT_MNIST_DIR, then the internet."""
        folder = _manual_dir_or_none(dl_manager) or sources.source_folder_from_env()
        if folder is not None:
            return sources.find_sources(folder, names)
        urls = {name: sources.source_url(name) for name in names}
        unreachable = sorted(
            {urllib.parse.urlparse(url).hostname for url in urls.values() if not _reachable(url)}
        )
        if unreachable:
            raise sources.SourceError(
                f"Cannot reach {', '.join(unreachable)} to download the sources; TFDS manual_dir "
                f"is unset, missing or empty and {sources.SOURCE_DIR_ENV} is unset. "
                + sources.missing_sources_message(names)
            )
        return dl_manager.download(urls)

    def _generate_examples(self, mnist_images, table, split_index):
        """Yields the examples of one split, class by class.

        The corrupt twin of class row i is drawn with the stateless seed
        (occlusion_seed, split_index * 2**20 + i), so it never changes between builds.
        """
        digits = self.builder_config.digits
        for row, (number, ids) in enumerate(zip(table.numbers, table.image_ids)):
            images = mnist_images[ids]  # [samples, N, 28, 28]
            images = images.transpose(0, 2, 1, 3).reshape(len(ids), 28, 28 * digits, 1)
            clean_png, corrupt_png, boxes = _occlude_and_encode_fn(digits)(
                images, tf.constant([self.builder_config.occlusion_seed, split_index * 2**20 + row])
            )
            number_digits = recipe.number_digits(number, digits)
            for sample, (image, image_corrupt, box) in enumerate(
                zip(clean_png.numpy(), corrupt_png.numpy(), boxes.numpy())
            ):
                yield (
                    f"{number}_{sample}",
                    {
                        "image": image,
                        "image_corrupt": image_corrupt,
                        "occlusion_boxes": box,
                        "label": int(number),
                        "digits": number_digits,
                        "mnist_ids": ids[sample],
                    },
                )


@functools.cache
def _occlude_and_encode_fn(digits):
    """A compiled fn: uint8 [S, 28, 28N, 1] images, seed [2] -> PNGs, twin PNGs, boxes.

    Encoding a whole class in one compiled call is ~10x faster than letting TFDS encode
    image by image eagerly, which keeps a full build within the 2-minute budget.
    """
    encode = lambda batch: tf.map_fn(tf.io.encode_png, batch, fn_output_signature=tf.string)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 28, 28 * digits, 1], tf.uint8),
            tf.TensorSpec([2], tf.int32),
        ]
    )
    def occlude_and_encode(images, seed):
        corrupt, boxes = occlusion.occlude(images, seed)
        return encode(images), encode(corrupt), boxes

    return occlude_and_encode


def _mnist_split(split):
    """Train examples use MNIST train digits; every test split uses MNIST test digits."""
    return "train" if split == "train" else "test"


def _manual_dir_or_none(dl_manager):
    """TFDS's manual_dir when one was given and holds files, else None."""
    try:
        return epath.Path(dl_manager.manual_dir)
    except AssertionError:  # TFDS: manual dir not enabled, missing or empty.
        return None


def _reachable(url):
    """Whether a TCP connection to the URL's host opens within a few seconds."""
    try:
        socket.create_connection(
            (urllib.parse.urlparse(url).hostname, 443), timeout=_REACH_TIMEOUT_S
        ).close()
        return True
    except OSError:
        return False
