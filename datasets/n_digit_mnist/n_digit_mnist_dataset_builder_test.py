"""n_digit_mnist builder tests on the fake sources in dummy_data/ (regenerate them with
`python -m hib_tf.data.fake_sources datasets/n_digit_mnist/dummy_data`)."""

import tensorflow_datasets as tfds

from n_digit_mnist import n_digit_mnist_dataset_builder


class NumberGap2DigitTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = n_digit_mnist_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["2digit_number"]
    SPLITS = {"train": 140, "test_seen": 60, "test_unseen": 60}


class NumberGap3DigitTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = n_digit_mnist_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["3digit_number"]
    SPLITS = {"train": 200, "test_seen": 60, "test_unseen": 60}


class InstanceGap2DigitTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = n_digit_mnist_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["2digit_instance"]
    SPLITS = {"train": 200, "test": 100}


class InstanceGap3DigitTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = n_digit_mnist_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["3digit_instance"]
    SPLITS = {"train": 2000, "test": 1000}


class RecipeConfigTest(tfds.testing.DatasetBuilderTestCase):
    """A config built from parameters draws its tables with the official recipe."""

    DATASET_CLASS = n_digit_mnist_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [
        n_digit_mnist_dataset_builder.NDigitMnistConfig.from_parameters(
            digits=1, total_train=35, total_test=9, min_per_number=2
        )
    ]
    SPLITS = {"train": 35, "test_seen": 8, "test_unseen": 9}


if __name__ == "__main__":
    tfds.testing.test_main()
