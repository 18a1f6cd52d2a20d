"""HIB model: encoder layers, the Keras model and the TFP view of its embeddings."""

from hib_tf.model.distribution import mixture_from_params
from hib_tf.model.encoder import ConvStump, HedgedHead, PointHead
from hib_tf.model.hib_model import HIBModel

__all__ = ["ConvStump", "HIBModel", "HedgedHead", "PointHead", "mixture_from_params"]
