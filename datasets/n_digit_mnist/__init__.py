"""n_digit_mnist dataset: importing this package registers it with TFDS."""

from n_digit_mnist.n_digit_mnist_dataset_builder import Builder
from n_digit_mnist.n_digit_mnist_dataset_builder import NDigitMnistConfig

__all__ = ["Builder", "NDigitMnistConfig"]
