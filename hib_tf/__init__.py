"""hib_tf: Hedged Instance Embeddings in TensorFlow 2 / Keras 3.

Importing hib_tf registers the `n_digit_mnist` TFDS dataset. The data flow, one module each:
dataset (`n_digit_mnist`) -> `hib_tf.data` (sources, occlusion, pipeline) -> `hib_tf.model`
(encoder, heads, HIBModel) -> `hib_tf.losses` -> `hib_tf.training` -> `hib_tf.export`
(SavedModel) -> `hib_tf.evaluation` (which reads only the SavedModel).
"""

import n_digit_mnist  # noqa: F401  (registers the TFDS dataset)

from hib_tf import data
from hib_tf import losses
from hib_tf.export import export_saved_model
from hib_tf.model import ConvStump
from hib_tf.model import HedgedHead
from hib_tf.model import HIBModel
from hib_tf.model import PointHead
from hib_tf.model import mixture_from_params

__all__ = [
    "ConvStump",
    "HIBModel",
    "HedgedHead",
    "PointHead",
    "data",
    "export_saved_model",
    "losses",
    "mixture_from_params",
]
