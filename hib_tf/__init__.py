"""hib_tf: Hedged Instance Embeddings in TensorFlow 2 / Keras 3.

Importing hib_tf registers the `n_digit_mnist` TFDS dataset.
"""

import n_digit_mnist  # Registers the TFDS dataset.  pylint: disable=unused-import

from hib_tf import data

__all__ = ['data']
