"""Tests of hib_tf.losses against naive NumPy loops, closed forms and TFP."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from hib_tf import losses
from hib_tf.model import mixture_from_params

BATCH, DIM, SAMPLES = 5, 3, 4
LABELS = np.array([0, 1, 0, 2, 1])


def _np_log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def _np_samples(mixture_logits, means, stddevs, noise, num_samples, point):
    """Per image, a list of (weight, sample) pairs, built one sample at a time."""
    batch, num_components, _ = means.shape
    out = []
    for i in range(batch):
        if point:
            out.append([(1.0, means[i, 0])])
            continue
        weights = np.exp(mixture_logits[i]) / np.exp(mixture_logits[i]).sum()
        per_component = num_samples // num_components
        out.append(
            [
                (
                    weights[k // per_component] / per_component,
                    means[i, k // per_component] + stddevs[i, k // per_component] * noise[i, k],
                )
                for k in range(num_samples)
            ]
        )
    return out


def _np_kl(mixture_logits, means, stddevs):
    weights = np.exp(mixture_logits) / np.exp(mixture_logits).sum()
    return sum(
        w * 0.5 * np.sum(s**2 + m**2 - 1.0 - 2.0 * np.log(s))
        for w, m, s in zip(weights, means, stddevs)
    )


def naive_hib_loss(
    mixture_logits, means, stddevs, noise, labels, a, b, num_samples, beta, loss_form, point
):
    """Paper equation 8 with every in-batch pair i < j, written with plain loops."""
    samples = _np_samples(mixture_logits, means, stddevs, noise, num_samples, point)
    pair_losses, pair_nlls = [], []
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            sign = 1.0 if labels[i] == labels[j] else -1.0
            terms = [
                (wi * wj, sign * (b - a * np.linalg.norm(zi - zj)))
                for wi, zi in samples[i]
                for wj, zj in samples[j]
            ]
            if loss_form == losses.LOG_OF_MEAN:
                log_likelihood = np.log(sum(w / (1.0 + np.exp(-t)) for w, t in terms))
            else:
                log_likelihood = sum(w * _np_log_sigmoid(t) for w, t in terms)
            kl = (
                0.0
                if point
                else (
                    _np_kl(mixture_logits[i], means[i], stddevs[i])
                    + _np_kl(mixture_logits[j], means[j], stddevs[j])
                )
            )
            pair_nlls.append(-log_likelihood)
            pair_losses.append(-log_likelihood + beta * kl)
    return np.mean(pair_losses), np.mean(pair_nlls)


def _embedding(num_components, learned, rng, mean_scale=1.0, stddev=None):
    shape = (BATCH, num_components, DIM)
    logits = rng.normal(size=(BATCH, num_components)) if learned else np.zeros(shape[:2])
    stddevs = rng.uniform(0.2, 1.5, size=shape) if stddev is None else np.full(shape, stddev)
    return {
        "mixture_logits": logits.astype(np.float32),
        "means": (mean_scale * rng.normal(size=shape)).astype(np.float32),
        "stddevs": stddevs.astype(np.float32),
    }


CASES = {
    "point": dict(num_components=1, learned=False, point=True),
    "mog1": dict(num_components=1, learned=False, point=False),
    "mog2": dict(num_components=2, learned=False, point=False),
    "mog2_learned": dict(num_components=2, learned=True, point=False),
}


@pytest.mark.parametrize("loss_form", losses.LOSS_FORMS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_hib_loss_matches_naive_loops(case, loss_form):
    config = CASES[case]
    rng = np.random.default_rng(0)
    embedding = _embedding(config["num_components"], config["learned"], rng)
    noise = rng.normal(size=(BATCH, SAMPLES, DIM)).astype(np.float32)
    a, b, beta = 1.3, 0.4, 0.05
    result = losses.hib_loss(
        embedding,
        LABELS,
        a,
        b,
        num_samples=SAMPLES,
        beta=beta,
        loss_form=loss_form,
        point=config["point"],
        noise=noise,
    )
    expected_loss, expected_nll = naive_hib_loss(
        *(embedding[k].astype(np.float64) for k in ("mixture_logits", "means", "stddevs")),
        noise.astype(np.float64),
        LABELS,
        a,
        b,
        SAMPLES,
        beta,
        loss_form,
        config["point"],
    )
    np.testing.assert_allclose(result["nll"], expected_nll, rtol=1e-5)
    np.testing.assert_allclose(result["loss"], expected_loss, rtol=1e-5)
    if config["point"]:
        assert float(result["kl"]) == 0.0


def test_loss_forms_agree_for_point_embeddings():
    embedding = _embedding(1, False, np.random.default_rng(1))
    values = [
        losses.hib_loss(embedding, LABELS, 1.0, 0.0, point=True, loss_form=form)["loss"]
        for form in losses.LOSS_FORMS
    ]
    np.testing.assert_allclose(values[0], values[1], rtol=1e-6)


def test_mean_of_log_bounds_log_of_mean():
    # Jensen: E[log p] <= log E[p], so the equation-8 NLL is the larger one.
    embedding = _embedding(2, True, np.random.default_rng(2))
    seed = tf.constant([3, 4])
    nll = {
        form: float(losses.hib_loss(embedding, LABELS, 1.0, 0.0, loss_form=form, seed=seed)["nll"])
        for form in losses.LOSS_FORMS
    }
    assert nll[losses.MEAN_OF_LOG] >= nll[losses.LOG_OF_MEAN]


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_reach_every_parameter(case):
    config = CASES[case]
    embedding = {
        k: tf.Variable(v)
        for k, v in _embedding(config["num_components"], True, np.random.default_rng(3)).items()
    }
    a, b = tf.Variable(1.0), tf.Variable(0.5)
    with tf.GradientTape() as tape:
        loss = losses.hib_loss(
            embedding,
            LABELS,
            a,
            b,
            num_samples=SAMPLES,
            point=config["point"],
            seed=tf.constant([1, 2]),
        )["loss"]
    wanted = {"a": a, "b": b, "means": embedding["means"]}
    if not config["point"]:
        wanted["stddevs"] = embedding["stddevs"]
    if config["num_components"] > 1:
        wanted["mixture_logits"] = embedding["mixture_logits"]
    grads = tape.gradient(loss, list(wanted.values()))
    for name, grad in zip(wanted, grads):
        assert grad is not None, name
        assert np.all(np.isfinite(grad)), name
        assert np.any(grad != 0.0), name


def test_stratified_samples_draw_k_over_c_from_each_component():
    rng = np.random.default_rng(4)
    means = rng.normal(size=(2, 4, DIM)).astype(np.float32)
    logits = rng.normal(size=(2, 4)).astype(np.float32)
    samples, log_weights = losses.stratified_samples(
        logits, means, np.ones_like(means), 8, noise=np.zeros((2, 8, DIM), np.float32)
    )
    assert samples.shape == (2, 8, DIM) and log_weights.shape == (2, 8)
    np.testing.assert_array_equal(samples, np.repeat(means, 2, axis=1))
    weights = np.exp(log_weights.numpy())
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        weights, np.repeat(tf.nn.softmax(logits).numpy() / 2, 2, axis=1), rtol=1e-6
    )


def test_stratified_samples_use_the_scale_and_the_seed():
    means = np.zeros((3, 2, DIM), np.float32)
    stddevs = np.stack([np.full((3, DIM), 1e-3), np.full((3, DIM), 10.0)], 1).astype(np.float32)
    draw = lambda seed: losses.stratified_samples(
        np.zeros((3, 2), np.float32), means, stddevs, 4, seed=tf.constant(seed)
    )[0].numpy()
    samples = draw([5, 6])
    np.testing.assert_array_equal(samples, draw([5, 6]))
    assert not np.array_equal(samples, draw([5, 7]))
    assert np.abs(samples[:, :2]).max() < 1e-2 < np.abs(samples[:, 2:]).max()


def test_stratified_samples_reject_indivisible_sample_counts():
    means = np.zeros((2, 3, DIM), np.float32)
    with pytest.raises(ValueError, match=r"num_samples \(8\) must be a positive multiple .* \(3\)"):
        losses.stratified_samples(
            np.zeros((2, 3), np.float32), means, means + 1.0, 8, seed=tf.constant([0, 0])
        )


def test_kl_closed_form_matches_tfp():
    embedding = _embedding(1, False, np.random.default_rng(5))
    kl = losses.kl_to_standard_normal(**embedding)
    standard = tfp.distributions.MultivariateNormalDiag(loc=tf.zeros(DIM))
    expected = tfp.distributions.kl_divergence(
        tfp.distributions.MultivariateNormalDiag(
            embedding["means"][:, 0], embedding["stddevs"][:, 0]
        ),
        standard,
    )
    np.testing.assert_allclose(kl, expected, rtol=1e-5)


def test_kl_of_a_mixture_is_an_upper_bound_exact_for_equal_components():
    embedding = _embedding(2, True, np.random.default_rng(6))
    mixture = mixture_from_params(**embedding)
    z = mixture.sample(20000, seed=tf.constant([7, 8]))
    standard = tfp.distributions.MultivariateNormalDiag(loc=tf.zeros(DIM))
    monte_carlo_kl = tf.reduce_mean(mixture.log_prob(z) - standard.log_prob(z), axis=0)
    bound = losses.kl_to_standard_normal(**embedding)
    assert np.all(bound.numpy() >= monte_carlo_kl.numpy() - 0.05)
    twins = {k: np.repeat(v[:, :1], 2, axis=1) for k, v in embedding.items()}
    one = {k: v[:, :1] for k, v in embedding.items()}
    np.testing.assert_allclose(
        losses.kl_to_standard_normal(**twins), losses.kl_to_standard_normal(**one), rtol=1e-6
    )


def test_match_logits_distance_and_zero_distance_gradient():
    z1 = tf.Variable([[0.0, 0.0], [3.0, 4.0]])
    z2 = tf.constant([[0.0, 0.0], [0.0, 0.0]])
    with tf.GradientTape() as tape:
        logits = losses.match_logits(z1, z2, 2.0, 0.5)
    np.testing.assert_allclose(logits, [0.5, 0.5 - 2.0 * 5.0])
    grad = tape.gradient(logits, z1).numpy()
    np.testing.assert_allclose(grad, [[0.0, 0.0], [-2.0 * 0.6, -2.0 * 0.8]], rtol=1e-6)


@pytest.mark.parametrize("loss_form", losses.LOSS_FORMS)
@pytest.mark.parametrize(
    "stddev,mean_scale", [(1e-6, 1.0), (1e3, 1.0), (1.0, 1e3), (1e-6, 0.0), (1e3, 1e3)]
)
def test_loss_and_gradients_are_finite_at_extreme_scales(stddev, mean_scale, loss_form):
    embedding = {
        k: tf.Variable(v)
        for k, v in _embedding(2, True, np.random.default_rng(7), mean_scale, stddev).items()
    }
    a, b = tf.Variable(1.0), tf.Variable(0.0)
    variables = [a, b, *embedding.values()]
    for point in (False, True):
        with tf.GradientTape() as tape:
            result = losses.hib_loss(
                {k: (v[:, :1] if point else v) for k, v in embedding.items()},
                LABELS,
                a,
                b,
                point=point,
                loss_form=loss_form,
                seed=tf.constant([9, 9]),
            )
        assert all(np.isfinite(v) for v in result.values()), result
        for grad in tape.gradient(result["loss"], variables):
            assert grad is None or np.all(np.isfinite(grad))


def test_identical_pairs_give_the_zero_distance_probability():
    # All images identical points: every pair has p(m) = sigmoid(b).
    embedding = {
        "mixture_logits": np.zeros((4, 1), np.float32),
        "means": np.ones((4, 1, 2), np.float32),
        "stddevs": np.zeros((4, 1, 2), np.float32),
    }
    labels = np.array([0, 0, 0, 0])
    nll = losses.hib_loss(embedding, labels, 1.0, 1.5, point=True)["nll"]
    np.testing.assert_allclose(nll, -math.log(1.0 / (1.0 + math.exp(-1.5))), rtol=1e-6)
