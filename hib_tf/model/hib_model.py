"""The HIB model: CNN stump + embedding head + the match calibration scalars a and b.

Training embeds a batch once and scores every pair of images in it (paper section 2.3). The
model returns tensors only (see :mod:`hib_tf.model.encoder`), so ``fit``, ``evaluate``,
``predict`` and export all work with plain Keras and TensorFlow.
"""

import keras
import tensorflow as tf

from hib_tf import losses
from hib_tf.model.encoder import ConvStump, HedgedHead, PointHead


@keras.saving.register_keras_serializable(package="hib_tf")
class HIBModel(keras.Model):
    """Hedged instance embedding (or its point-embedding baseline) with a custom train step.

    ``p(m | z1, z2) = sigmoid(-a ||z1 - z2|| + b)`` with ``a = exp(log_a)`` (so a > 0 with an
    unconstrained variable; ``log_a`` starts at 0 so a = 1) and ``b`` a free variable starting
    at 0. The log scale matters: Adam moves a variable by about the learning rate per step, so
    with ``a = softplus(raw)`` a grew by only ~1e-3 per step (linearly, for thousands of steps);
    in log space it can change by a factor per step.

    Monte-Carlo noise is stateless: the training seed is ``[seed, optimizer.iterations]`` (with
    the replica folded in under a distribution strategy, see ``train_step``), so a run is
    repeatable and a resumed run draws the same noise; evaluation uses the fixed seed
    ``[seed, -1]``.

    Use with ``model.compile(optimizer=...)`` (no loss: the model computes its own) and
    ``model.fit(dataset)`` on ``(images, labels)`` batches, images float32 [B, 28, 28 N, 1] in
    [0, 1] and labels int [B] class ids, B >= 2.

    Args:
      dim: embedding dimension D.
      num_components: mixture components C (1 = single Gaussian); must be 1 for point
        embeddings.
      point: train a point embedding (one sample, no noise, no KL) instead of HIB.
      num_samples: K Monte-Carlo samples per image, a multiple of C (paper: 8).
      beta: KL weight per pair member (paper: 1e-4); the batch loss is ``nll + 2 beta kl``.
      loss_form: ``"log_of_mean"`` (paper figure 2, default) or ``"mean_of_log"`` (equation 8).
      learned_weights: learn the mixture weights instead of keeping them equal.
      filters1: filters of the first convolution.
      filters2: filters of the second convolution.
      min_stddev: floor of the embedding stddevs.
      seed: int seed of all Monte-Carlo noise.
      **kwargs: ``keras.Model`` arguments (name, dtype, ...). A mixed dtype policy applies to the
        stump; the head, a, b and the loss stay float32.
    """

    def __init__(
        self,
        dim=2,
        num_components=1,
        point=False,
        num_samples=8,
        beta=1e-4,
        loss_form=losses.LOG_OF_MEAN,
        learned_weights=False,
        filters1=32,
        filters2=64,
        min_stddev=1e-6,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if point and (num_components != 1 or learned_weights):
            raise ValueError("A point embedding has one component and no mixture weights.")
        if not point and num_samples % num_components:
            raise ValueError(
                f"num_samples ({num_samples}) must be a multiple of num_components "
                f"({num_components}) for stratified sampling."
            )
        if loss_form not in losses.LOSS_FORMS:
            raise ValueError(f"loss_form must be one of {losses.LOSS_FORMS}, got {loss_form!r}.")
        self.dim = dim
        self.num_components = num_components
        self.point = point
        self.num_samples = num_samples
        self.beta = beta
        self.loss_form = loss_form
        self.learned_weights = learned_weights
        self.filters1 = filters1
        self.filters2 = filters2
        self.min_stddev = min_stddev
        self.seed = seed
        self.stump = ConvStump(filters1, filters2, dtype=self.dtype_policy, name="stump")
        if point:
            self.head = PointHead(dim, dtype="float32", name="head")
        else:
            self.head = HedgedHead(
                dim, num_components, learned_weights, min_stddev, dtype="float32", name="head"
            )
        self.log_a = self.add_weight(shape=(), dtype="float32", name="log_a", initializer="zeros")
        self.b = self.add_weight(shape=(), dtype="float32", name="b", initializer="zeros")
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "nll", "kl", "a", "b", "mean_stddev")
        }

    @property
    def a(self):
        """float32 scalar > 0, the distance scale of the match probability."""
        return tf.exp(tf.convert_to_tensor(self.log_a))

    def call(self, images, training=None):
        """Embeds images.

        Args:
          images: float [B, 28, 28 N, 1] in [0, 1].
          training: unused (no dropout or batch norm); kept for the Keras call convention.

        Returns:
          dict of float32: ``mixture_logits`` [B, C], ``means`` [B, C, D], ``stddevs``
          [B, C, D] (zeros for a point embedding).
        """
        return self.head(self.stump(images))

    def samples(self, embedding, seed):
        """Stratified reparameterised samples of embeddings (the means, for point embeddings).

        Args:
          embedding: dict returned by ``call``.
          seed: int32 [2] stateless seed.

        Returns:
          ``(samples, log_weights)``: float32 [B, K, D] and [B, K] (K = 1 for points).
        """
        if self.point:
            means = embedding["means"]
            return means, tf.zeros(tf.shape(means)[:2])
        return losses.stratified_samples(
            embedding["mixture_logits"],
            embedding["means"],
            embedding["stddevs"],
            self.num_samples,
            seed=seed,
        )

    def match_probability(self, images1, images2, seed=None):
        """Monte-Carlo ``p(m | x1, x2)`` of paired images (paper equation 5).

        Args:
          images1: float [B, 28, 28 N, 1] in [0, 1].
          images2: float [B, 28, 28 N, 1] in [0, 1].
          seed: int32 [2] stateless seed; defaults to ``[seed, -1]``.

        Returns:
          float32 [B] in [0, 1].
        """
        seed1, seed2 = tf.unstack(tf.random.split(self._eval_seed(seed), 2, alg="philox"))
        samples1 = self.samples(self(images1), seed1)
        samples2 = self.samples(self(images2), seed2)
        return tf.exp(losses.log_match_probability(*samples1, *samples2, self.a, self.b))

    def uncertainty(self, images, seed=None):
        """``eta(x) = 1 - p(m | x, x)`` (paper section 2.4) from two independent sets of K samples.

        Independent sets keep the estimate unbiased (reusing one set would include the K
        zero-distance self pairs). For a point embedding eta = 1 - sigmoid(b), the same for every
        image.

        Args:
          images: float [B, 28, 28 N, 1] in [0, 1].
          seed: int32 [2] stateless seed; defaults to ``[seed, -1]``.

        Returns:
          float32 [B] in [0, 1].
        """
        seed1, seed2 = tf.unstack(tf.random.split(self._eval_seed(seed), 2, alg="philox"))
        embedding = self(images)
        log_p = losses.log_match_probability(
            *self.samples(embedding, seed1), *self.samples(embedding, seed2), self.a, self.b
        )
        return -tf.math.expm1(log_p)

    def train_step(self, data):
        """One step on this replica's batch; under a tf.distribute strategy, one per replica.

        Each replica scores the pairs of its own batch. The optimizer sums the replicas'
        gradients (``scale_loss`` only applies mixed-precision loss scaling), so each replica's
        loss is divided by the replica count: the update is that of the mean of the replicas'
        losses, and the logged metrics are that mean too. Replica ``r`` of ``R`` draws its noise
        with seed ``[seed, R * step + r]``, ``[seed, step]`` on one device.
        """
        images, labels = _images_and_labels(data)
        replica = tf.distribute.get_replica_context()
        replicas = replica.num_replicas_in_sync
        step = tf.convert_to_tensor(self.optimizer.iterations, tf.int64)
        seed = tf.stack(
            [
                tf.constant(self.seed, tf.int64),
                step * replicas + tf.cast(replica.replica_id_in_sync_group, tf.int64),
            ]
        )
        with tf.GradientTape() as tape:
            embedding = self(images, training=True)
            result = self._loss(embedding, labels, seed)
            scaled_loss = self.optimizer.scale_loss(result["loss"] / replicas)
        grads = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_metrics(result, embedding)

    def test_step(self, data):
        images, labels = _images_and_labels(data)
        embedding = self(images, training=False)
        return self._update_metrics(self._loss(embedding, labels, self._eval_seed(None)), embedding)

    def predict_step(self, data):
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(images, training=False)

    @property
    def metrics(self):
        return list(self._trackers.values())

    def _loss(self, embedding, labels, seed):
        return losses.hib_loss(
            embedding,
            labels,
            self.a,
            self.b,
            num_samples=self.num_samples,
            beta=self.beta,
            loss_form=self.loss_form,
            point=self.point,
            seed=seed,
        )

    def _update_metrics(self, result, embedding):
        values = {
            **result,
            "a": self.a,
            "b": tf.convert_to_tensor(self.b),
            "mean_stddev": tf.reduce_mean(embedding["stddevs"]),
        }
        for name, tracker in self._trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def _eval_seed(self, seed):
        if seed is None:
            return tf.constant([self.seed, -1], tf.int64)
        return tf.cast(seed, tf.int64)

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "num_components": self.num_components,
            "point": self.point,
            "num_samples": self.num_samples,
            "beta": self.beta,
            "loss_form": self.loss_form,
            "learned_weights": self.learned_weights,
            "filters1": self.filters1,
            "filters2": self.filters2,
            "min_stddev": self.min_stddev,
            "seed": self.seed,
        }


def _images_and_labels(data):
    """Unpacks an ``(images, labels)`` batch; pair losses have no per-image sample weights."""
    images, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if sample_weight is not None:
        raise ValueError("HIBModel does not support sample weights: every pair counts once.")
    return images, labels
