"""n_digit_mnist builder tests on fake sources written when the tests start.

The fake MNIST files and index tables carry the official file names (the builder looks for
those names), so they are generated into a temporary folder rather than committed: nothing
named like MNIST or the official tables is ever tracked.
"""

import tempfile

import tensorflow_datasets as tfds

from hib_tf.data import fake_sources
from n_digit_mnist import n_digit_mnist_dataset_builder

_DUMMY_DATA = tempfile.mkdtemp(prefix="n_digit_mnist_dummy_data_")
fake_sources.write_fake_sources(_DUMMY_DATA)


class _FakeSources:
    """Mixin: DatasetBuilderTestCase reads the fake sources as dummy data (and manual_dir)."""

    DATASET_CLASS = n_digit_mnist_dataset_builder.Builder
    EXAMPLE_DIR = _DUMMY_DATA


class NumberGap2DigitTest(_FakeSources, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["2digit_number"]
    SPLITS = {"train": 140, "test_seen": 60, "test_unseen": 60}


class NumberGap3DigitTest(_FakeSources, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["3digit_number"]
    SPLITS = {"train": 200, "test_seen": 60, "test_unseen": 60}


class InstanceGap2DigitTest(_FakeSources, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["2digit_instance"]
    SPLITS = {"train": 200, "test": 100}


class InstanceGap3DigitTest(_FakeSources, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["3digit_instance"]
    SPLITS = {"train": 2000, "test": 1000}


class RecipeConfigTest(_FakeSources, tfds.testing.DatasetBuilderTestCase):
    """A config built from parameters draws its tables with the official recipe."""

    BUILDER_CONFIG_NAMES_TO_TEST = [
        n_digit_mnist_dataset_builder.NDigitMnistConfig.from_parameters(
            digits=1, total_train=35, total_test=9, min_per_number=2
        )
    ]
    SPLITS = {"train": 35, "test_seen": 8, "test_unseen": 9}


if __name__ == "__main__":
    tfds.testing.test_main()
