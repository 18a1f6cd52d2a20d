"""Match probability, stratified sampling and the HIB training loss (paper sections 2.1-2.3).

Pure TensorFlow functions on tensors, so the same code serves training, evaluation and the
exported SavedModel (which must load without TensorFlow Probability). Embeddings are described
by three tensors throughout:

* ``mixture_logits``: float32 [B, C], unnormalised log mixture weights;
* ``means``: float32 [B, C, D];
* ``stddevs``: float32 [B, C, D], positive standard deviations (never variances or logs).

A point embedding is the special case C = 1, zero stddevs, one sample and no KL term.
"""

import math

import tensorflow as tf

LOG_OF_MEAN = "log_of_mean"
MEAN_OF_LOG = "mean_of_log"
LOSS_FORMS = (LOG_OF_MEAN, MEAN_OF_LOG)


def safe_distance(z1, z2):
    """Euclidean distance whose gradient is finite (zero) when the points coincide.

    Identical pairs are common (an image paired with itself, a collapsed embedding), and the
    gradient of ``sqrt`` at 0 is infinite. The double-``tf.where`` keeps both the value and the
    gradient exact elsewhere, unlike adding an epsilon under the root.

    Args:
      z1: float [..., D].
      z2: float [..., D], broadcastable against ``z1``.

    Returns:
      float [...], ``||z1 - z2||_2 >= 0``.
    """
    squared = tf.reduce_sum(tf.square(z1 - z2), axis=-1)
    positive = squared > 0.0
    safe_squared = tf.where(positive, squared, tf.ones_like(squared))
    return tf.where(positive, tf.sqrt(safe_squared), tf.zeros_like(squared))


def match_logits(z1, z2, a, b):
    """Logit of the match probability of two embedding points, ``-a * ||z1 - z2||_2 + b``.

    ``p(m | z1, z2) = sigmoid(match_logits(z1, z2, a, b))`` (paper equation 2): the plain, not
    squared, distance and the plain sigmoid.

    Args:
      z1: float32 [..., D].
      z2: float32 [..., D], broadcastable against ``z1``.
      a: float32 scalar, > 0.
      b: float32 scalar.

    Returns:
      float32 [...].
    """
    return b - a * safe_distance(z1, z2)


def stratified_samples(mixture_logits, means, stddevs, num_samples, noise=None, seed=None):
    """Reparameterised samples, the same number from every mixture component.

    Sampling the mixture directly gives no gradient to the mixture weights; stratifying
    (paper section 2.2) and weighting each sample by ``w_c / (K / C)`` keeps the estimate of any
    expectation unbiased and lets gradients reach learned mixture logits.

    Samples are laid out in blocks: sample ``k`` comes from component ``k // (K // C)``.

    Args:
      mixture_logits: float32 [B, C].
      means: float32 [B, C, D].
      stddevs: float32 [B, C, D], >= 0.
      num_samples: int K, divisible by C.
      noise: optional float32 [B, K, D] standard normal draws, for tests; overrides ``seed``.
      seed: int32 or int64 [2] stateless seed, used when ``noise`` is None. The Philox
        algorithm is fixed so that XLA and non-XLA runs draw the same noise.

    Returns:
      ``(samples, log_weights)``: float32 [B, K, D] and float32 [B, K]; the weights
      ``exp(log_weights)`` of each row sum to 1.

    Raises:
      ValueError: if K is not a positive multiple of C, or neither noise nor seed is given.
    """
    num_components = means.shape[1]
    if num_samples <= 0 or num_samples % num_components:
        raise ValueError(
            f"num_samples ({num_samples}) must be a positive multiple of the number of mixture "
            f"components ({num_components}) for stratified sampling."
        )
    per_component = num_samples // num_components
    if noise is None:
        if seed is None:
            raise ValueError("Pass either noise or seed to stratified_samples.")
        shape = tf.stack([tf.shape(means)[0], num_samples, tf.shape(means)[2]])
        noise = tf.random.stateless_normal(shape, seed=seed, dtype=means.dtype, alg="philox")
    locs = tf.repeat(means, per_component, axis=1)
    scales = tf.repeat(stddevs, per_component, axis=1)
    log_weights = tf.nn.log_softmax(mixture_logits, axis=-1) - math.log(per_component)
    return locs + scales * noise, tf.repeat(log_weights, per_component, axis=1)


def log_match_likelihood(
    samples1, log_weights1, samples2, log_weights2, a, b, is_match, loss_form=LOG_OF_MEAN
):
    """Monte-Carlo ``log p(m = is_match | x1, x2)`` from weighted samples of both embeddings.

    ``log_of_mean`` (default, paper figure 2) is the log of the weighted MC estimate
    ``sum_kl w_k w_l sigmoid(s * logit_kl)``; ``mean_of_log`` (paper equation 8) is
    ``sum_kl w_k w_l log_sigmoid(s * logit_kl)``, with ``s = +1`` for a match and ``-1`` for a
    non-match (``1 - sigmoid(t) = sigmoid(-t)``). Both are computed in log space with
    ``log_sigmoid`` and ``logsumexp`` so that no probability under- or overflows.

    Args:
      samples1: float32 [..., K1, D].
      log_weights1: float32 [..., K1].
      samples2: float32 [..., K2, D]; leading dims broadcast against ``samples1``.
      log_weights2: float32 [..., K2].
      a: float32 scalar, > 0.
      b: float32 scalar.
      is_match: bool, broadcastable to [...]: the outcome whose likelihood is wanted.
      loss_form: ``"log_of_mean"`` or ``"mean_of_log"``.

    Returns:
      float32 [...], <= 0.
    """
    if loss_form not in LOSS_FORMS:
        raise ValueError(f"loss_form must be one of {LOSS_FORMS}, got {loss_form!r}.")
    logits = match_logits(samples1[..., :, None, :], samples2[..., None, :, :], a, b)
    sign = tf.where(is_match, 1.0, -1.0)[..., None, None]
    log_sigmoid = tf.math.log_sigmoid(sign * logits)
    log_weights = log_weights1[..., :, None] + log_weights2[..., None, :]
    if loss_form == LOG_OF_MEAN:
        return tf.reduce_logsumexp(log_weights + log_sigmoid, axis=[-2, -1])
    return tf.reduce_sum(tf.exp(log_weights) * log_sigmoid, axis=[-2, -1])


def log_match_probability(samples1, log_weights1, samples2, log_weights2, a, b):
    """Monte-Carlo ``log p(m | x1, x2)`` (paper equation 5), the score used at test time.

    Args: as :func:`log_match_likelihood`, without ``is_match`` and ``loss_form``.

    Returns:
      float32 [...], <= 0.
    """
    return log_match_likelihood(
        samples1, log_weights1, samples2, log_weights2, a, b, True, LOG_OF_MEAN
    )


def batch_pair_nll(samples, log_weights, labels, a, b, loss_form=LOG_OF_MEAN):
    """Soft contrastive NLL averaged over every unordered pair ``i < j`` of a batch.

    Each image is embedded once and scored against every other image of the batch; the
    ``B * (B - 1) / 2`` pairs ``i < j`` count once each, and an image is never paired with itself
    (that pair is always a match and would only teach the self-match term, the uncertainty).

    Args:
      samples: float32 [B, K, D].
      log_weights: float32 [B, K].
      labels: int [B] class ids; a pair matches when the ids are equal.
      a: float32 scalar, > 0.
      b: float32 scalar.
      loss_form: ``"log_of_mean"`` or ``"mean_of_log"``.

    Returns:
      float32 scalar, >= 0. Needs B >= 2.
    """
    # Score only the pairs i < j (half of the B x B grid, no diagonal): the loss tensors, the
    # costliest part of a mixture's training step, shrink by more than half.
    batch_size = tf.shape(labels)[0]
    upper = tf.linalg.band_part(tf.ones([batch_size, batch_size], tf.bool), 0, -1)
    pairs = tf.where(upper & ~tf.eye(batch_size, dtype=tf.bool))  # [P, 2]
    first, second = pairs[:, 0], pairs[:, 1]
    log_likelihood = log_match_likelihood(
        tf.gather(samples, first),
        tf.gather(log_weights, first),
        tf.gather(samples, second),
        tf.gather(log_weights, second),
        a,
        b,
        tf.equal(tf.gather(labels, first), tf.gather(labels, second)),
        loss_form,
    )
    return -tf.reduce_mean(log_likelihood)


def gaussian_kl_to_standard_normal(means, stddevs):
    """Closed-form ``KL(N(mu, diag(sigma^2)) || N(0, I))``, per Gaussian.

    Args:
      means: float32 [..., D].
      stddevs: float32 [..., D], > 0.

    Returns:
      float32 [...], ``0.5 * sum_d (sigma^2 + mu^2 - 1 - 2 log sigma)``.
    """
    return 0.5 * tf.reduce_sum(
        tf.square(stddevs) + tf.square(means) - 1.0 - 2.0 * tf.math.log(stddevs), axis=-1
    )


def kl_to_standard_normal(mixture_logits, means, stddevs):
    """``KL(p(z|x) || N(0, I))`` per image: exact for C = 1, an upper bound for C > 1.

    A Gaussian mixture has no closed-form KL. By convexity of KL in its first argument,
    ``KL(sum_c w_c N_c || r) <= sum_c w_c KL(N_c || r)``. The bound is deterministic and closed
    form, so it adds no Monte-Carlo variance to the loss (a sample estimate would, and could go
    negative), it is exact when the components coincide and it gives gradients to the weights.

    Args:
      mixture_logits: float32 [B, C].
      means: float32 [B, C, D].
      stddevs: float32 [B, C, D], > 0.

    Returns:
      float32 [B], >= 0.
    """
    weights = tf.nn.softmax(mixture_logits, axis=-1)
    return tf.reduce_sum(weights * gaussian_kl_to_standard_normal(means, stddevs), axis=-1)


def hib_loss(
    embedding,
    labels,
    a,
    b,
    num_samples=8,
    beta=1e-4,
    loss_form=LOG_OF_MEAN,
    point=False,
    noise=None,
    seed=None,
):
    """The HIB training loss of a batch (paper equation 8, every in-batch pair a training pair).

    Per pair ``(i, j)`` the loss is ``-log p(m = m_ij | x_i, x_j) + beta * (KL_i + KL_j)``, as in
    the paper. Averaged over the ``B (B - 1) / 2`` unordered pairs every image is in ``B - 1``
    pairs, so the batch loss is exactly ``nll + 2 * beta * kl`` with ``kl`` the mean per-image KL.

    Args:
      embedding: dict with ``mixture_logits`` [B, C], ``means`` [B, C, D], ``stddevs`` [B, C, D].
      labels: int [B] class ids.
      a: float32 scalar, > 0.
      b: float32 scalar.
      num_samples: K samples per image; a point embedding always uses one.
      beta: weight of the KL term per pair member.
      loss_form: ``"log_of_mean"`` (paper figure 2) or ``"mean_of_log"`` (equation 8).
      point: the embedding is a point (C = 1, its mean): one sample, no noise, no KL.
      noise: optional float32 [B, K, D] standard normal draws; see :func:`stratified_samples`.
      seed: int32 [2] stateless seed, used when ``noise`` is None.

    Returns:
      dict of float32 scalars: ``loss``, ``nll`` and ``kl`` (mean per-image KL; 0 for points).
    """
    means = tf.cast(embedding["means"], tf.float32)
    mixture_logits = tf.cast(embedding["mixture_logits"], tf.float32)
    if point:
        samples = means[:, :1]
        log_weights = tf.zeros(tf.shape(samples)[:2])
        kl = tf.constant(0.0)
    else:
        stddevs = tf.cast(embedding["stddevs"], tf.float32)
        samples, log_weights = stratified_samples(
            mixture_logits, means, stddevs, num_samples, noise=noise, seed=seed
        )
        kl = tf.reduce_mean(kl_to_standard_normal(mixture_logits, means, stddevs))
    nll = batch_pair_nll(samples, log_weights, labels, a, b, loss_form)
    return {"loss": nll + 2.0 * beta * kl, "nll": nll, "kl": kl}
