"""The embedding distribution p(z | x) as a TFP object, built where it is used.

Kept apart from the layers so that training, evaluation and export pass plain tensors and only
code that needs densities, samples or KLs from TFP imports it.
"""

import tensorflow_probability as tfp

tfd = tfp.distributions


def mixture_from_params(mixture_logits, means, stddevs):
    """``MixtureSameFamily(Categorical(logits), MultivariateNormalDiag(loc, scale_diag))``.

    Args:
      mixture_logits: float32 [B, C].
      means: float32 [B, C, D].
      stddevs: float32 [B, C, D], > 0 (a point embedding's zero stddevs give a degenerate
        distribution: use its means instead).

    Returns:
      A distribution with batch shape [B] and event shape [D].
    """
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=mixture_logits),
        components_distribution=tfd.MultivariateNormalDiag(loc=means, scale_diag=stddevs),
    )
