"""Keras 3 layers of the HIB encoder: the shared CNN stump and the embedding heads (section 2.2).

Every head returns the same three tensors, so that the loss, evaluation and export handle point
and hedged embeddings alike (only tensors cross graph boundaries; build the distribution where it
is used, with :func:`hib_tf.model.mixture_from_params`):

* ``mixture_logits``: float32 [B, C], unnormalised log mixture weights;
* ``means``: float32 [B, C, D];
* ``stddevs``: float32 [B, C, D], standard deviations (zero for point embeddings).
"""

import math

import keras
from keras import ops

INITIAL_STDDEV = 0.01


@keras.saving.register_keras_serializable(package="hib_tf")
class ConvStump(keras.layers.Layer):
    """conv 5x5 -> max-pool 2 -> conv 5x5 -> max-pool 2 -> flatten, shared by all heads.

    The paper does not give filter counts or padding; 32 and 64 filters with "same" padding and
    ReLU are the usual MNIST choice and stay constructor arguments.

    Args:
      filters1: filters of the first convolution.
      filters2: filters of the second convolution.
      kernel_size: side of both (square) convolution kernels.
      padding: ``"same"`` or ``"valid"``.
      **kwargs: ``keras.layers.Layer`` arguments (name, dtype, ...).

    Call args:
      images: float [B, 28, 28 * N, 1] in [0, 1].

    Returns:
      float [B, F] features, F = filters2 * (28 / 4) * (28 N / 4) with "same" padding.
    """

    def __init__(self, filters1=32, filters2=64, kernel_size=5, padding="same", **kwargs):
        super().__init__(**kwargs)
        self.filters1 = filters1
        self.filters2 = filters2
        self.kernel_size = kernel_size
        self.padding = padding
        self._stack = [
            keras.layers.Conv2D(
                filters1,
                kernel_size,
                padding=padding,
                activation="relu",
                dtype=self.dtype_policy,
                name="conv1",
            ),
            keras.layers.MaxPooling2D(2, dtype=self.dtype_policy, name="pool1"),
            keras.layers.Conv2D(
                filters2,
                kernel_size,
                padding=padding,
                activation="relu",
                dtype=self.dtype_policy,
                name="conv2",
            ),
            keras.layers.MaxPooling2D(2, dtype=self.dtype_policy, name="pool2"),
            keras.layers.Flatten(dtype=self.dtype_policy, name="flatten"),
        ]

    def build(self, input_shape):
        shape = input_shape
        for layer in self._stack:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, images):
        x = images
        for layer in self._stack:
            x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self):
        return {
            **super().get_config(),
            "filters1": self.filters1,
            "filters2": self.filters2,
            "kernel_size": self.kernel_size,
            "padding": self.padding,
        }


@keras.saving.register_keras_serializable(package="hib_tf")
class PointHead(keras.layers.Layer):
    """One dense layer to D: a point embedding, written as a one-component, zero-width mixture.

    Args:
      dim: embedding dimension D.
      **kwargs: ``keras.layers.Layer`` arguments.

    Call args:
      features: float [B, F].

    Returns:
      dict: ``mixture_logits`` zeros [B, 1], ``means`` [B, 1, D], ``stddevs`` zeros [B, 1, D].
    """

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.dense = keras.layers.Dense(dim, dtype=self.dtype_policy, name="mean")

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, features):
        means = ops.expand_dims(self.dense(features), 1)
        return {
            "mixture_logits": ops.zeros_like(means[:, :, 0]),
            "means": means,
            "stddevs": ops.zeros_like(means),
        }

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


@keras.saving.register_keras_serializable(package="hib_tf")
class HedgedHead(keras.layers.Layer):
    """Mixture of C diagonal Gaussians: a mean and a scale branch per component.

    The 2C linear branches of the paper are two ``Dense`` layers with C D outputs each, one for
    the means and one for the scales (the same maps, computed in two matmuls). Scales are
    ``softplus(raw) + min_stddev``: positive, smooth and bounded away from 0 so that
    ``log(stddev)`` in the KL term stays finite.

    The scale branch starts at zero weights, every stddev at ``initial_stddev``, well inside
    the spread of the initial means. Started from a random scale branch instead, the stddevs
    dwarf the spread of the means; the quickest way to lower the loss of the mostly
    non-matching pairs is then to inflate every stddev, which drowns the means' gradient, and a
    run can stay there: N = 3, D = 2, MoG-2 collapsed to one embedding for
    every image and chance-level scores after 4,000 steps (docs/RESULTS.md).

    Args:
      dim: embedding dimension D.
      num_components: C >= 1.
      learned_weights: learn the mixture logits with a further dense branch; otherwise the
        weights are equal (the paper's mixture has no weights).
      min_stddev: floor added to every stddev.
      initial_stddev: every stddev at initialisation, > min_stddev.
      **kwargs: ``keras.layers.Layer`` arguments.

    Call args:
      features: float [B, F].

    Returns:
      dict: ``mixture_logits`` [B, C], ``means`` [B, C, D], ``stddevs`` [B, C, D] > 0.
    """

    def __init__(
        self,
        dim,
        num_components=1,
        learned_weights=False,
        min_stddev=1e-6,
        initial_stddev=INITIAL_STDDEV,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_components < 1:
            raise ValueError(f"num_components must be >= 1, got {num_components}.")
        if not initial_stddev > min_stddev:
            raise ValueError(
                f"initial_stddev ({initial_stddev}) must exceed min_stddev ({min_stddev})."
            )
        self.dim = dim
        self.num_components = num_components
        self.learned_weights = learned_weights
        self.min_stddev = min_stddev
        self.initial_stddev = initial_stddev
        self.mean_branch = keras.layers.Dense(
            num_components * dim, dtype=self.dtype_policy, name="means"
        )
        # softplus(raw) = initial_stddev - min_stddev, solved for raw.
        raw = math.log(math.expm1(initial_stddev - min_stddev))
        self.scale_branch = keras.layers.Dense(
            num_components * dim,
            kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(raw),
            dtype=self.dtype_policy,
            name="scales",
        )
        self.logits = (
            keras.layers.Dense(num_components, dtype=self.dtype_policy, name="mixture_logits")
            if learned_weights
            else None
        )

    def build(self, input_shape):
        self.mean_branch.build(input_shape)
        self.scale_branch.build(input_shape)
        if self.logits is not None:
            self.logits.build(input_shape)

    def call(self, features):
        shape = (-1, self.num_components, self.dim)
        means = ops.reshape(self.mean_branch(features), shape)
        stddevs = ops.softplus(ops.reshape(self.scale_branch(features), shape)) + self.min_stddev
        if self.logits is None:
            mixture_logits = ops.zeros_like(means[:, :, 0])
        else:
            mixture_logits = self.logits(features)
        return {"mixture_logits": mixture_logits, "means": means, "stddevs": stddevs}

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "num_components": self.num_components,
            "learned_weights": self.learned_weights,
            "min_stddev": self.min_stddev,
            "initial_stddev": self.initial_stddev,
        }
