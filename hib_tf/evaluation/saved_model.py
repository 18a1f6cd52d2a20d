"""Reads an exported HIB SavedModel: its metadata, and embeddings of image arrays.

Only the SavedModel's own endpoints are used (see :mod:`hib_tf.export`), so a model evaluates
without the code that trained it.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from hib_tf.evaluation.data import EvaluationError

_ENDPOINTS = ("embed", "metadata")


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the evaluation needs to know about an exported model.

    Attributes:
      a: float > 0, b: float; ``p(m | z1, z2) = sigmoid(-a ||z1 - z2|| + b)``.
      digits: N, digits per input image. dim: D. num_components: C.
      num_samples: K the model was trained with (1 for point embeddings). point: bool.
    """

    a: float
    b: float
    digits: int
    dim: int
    num_components: int
    num_samples: int
    point: bool

    @property
    def kind(self):
        """The paper's column name: ``point``, ``MoG-1`` or ``MoG-2``."""
        return "point" if self.point else f"MoG-{self.num_components}"


def load(path):
    """Loads a SavedModel written by :func:`hib_tf.export.export_saved_model`.

    Args:
      path: the SavedModel folder.

    Returns:
      ``(loaded, ModelInfo)``.

    Raises:
      EvaluationError: if the folder is missing, is not a SavedModel, or lacks the endpoints.
    """
    if not os.path.isdir(path):
        raise EvaluationError(f"SavedModel folder {path!r} does not exist.")
    if not tf.saved_model.contains_saved_model(path):
        raise EvaluationError(f"{path!r} is not a SavedModel folder (no saved_model.pb).")
    try:
        loaded = tf.saved_model.load(path)
    except (OSError, ValueError, tf.errors.OpError) as error:
        raise EvaluationError(f"Cannot load the SavedModel at {path!r}: {error}") from error
    missing = [name for name in _ENDPOINTS if not hasattr(loaded, name)]
    if missing:
        raise EvaluationError(
            f"The SavedModel at {path!r} lacks the endpoints {missing}: it was not written by "
            "hib_tf.export.export_saved_model (train.py)."
        )
    meta = {key: value.numpy() for key, value in loaded.metadata().items()}
    info = ModelInfo(
        a=float(meta["a"]),
        b=float(meta["b"]),
        digits=int(meta["digits"]),
        dim=int(meta["dim"]),
        num_components=int(meta["num_components"]),
        num_samples=int(meta["num_samples"]),
        point=bool(meta["point"]),
    )
    return loaded, info


def embed(loaded, images, batch_size=256):
    """Embeds images in batches with the SavedModel's ``embed`` endpoint.

    Args:
      loaded: the loaded SavedModel.
      images: uint8 [M, 28, 28 N, 1].
      batch_size: images per call.

    Returns:
      dict of float32 numpy arrays: ``mixture_weights`` [M, C], ``means`` [M, C, D] and
      ``stddevs`` [M, C, D] (zeros for point embeddings).
    """
    parts = [
        {
            key: value.numpy()
            for key, value in loaded.embed(images[start : start + batch_size]).items()
        }
        for start in range(0, len(images), batch_size)
    ]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def mixture_means(embedding):
    """float32 [M, D], each embedding's mean ``sum_c w_c mu_c`` (the point, for points)."""
    return np.einsum("mc,mcd->md", embedding["mixture_weights"], embedding["means"])
