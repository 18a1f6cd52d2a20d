"""Data: N-digit MNIST sources, the occlusion op and the training input pipeline."""

from hib_tf.data.occlusion import occlude
from hib_tf.data.sources import SOURCE_DIR_ENV
from hib_tf.data.sources import SourceError

__all__ = ["SOURCE_DIR_ENV", "SourceError", "occlude"]
