"""Tests of the HIB encoder layers and model: configs, uncertainty, a short fit."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from hib_tf.model import ConvStump, HedgedHead, HIBModel, PointHead

SMALL = dict(filters1=4, filters2=8)


def _images(batch, digits=1, seed=0):
    return np.random.default_rng(seed).uniform(size=(batch, 28, 28 * digits, 1)).astype(np.float32)


@pytest.mark.parametrize(
    "layer",
    [
        ConvStump(filters1=3, filters2=5, kernel_size=3, padding="valid"),
        PointHead(4),
        HedgedHead(4, num_components=3, learned_weights=True, min_stddev=1e-3),
    ],
)
def test_layer_config_round_trip(layer):
    inputs = _images(2) if isinstance(layer, ConvStump) else np.ones((2, 6), np.float32)
    outputs = layer(inputs)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(inputs)
    clone.set_weights(layer.get_weights())
    for got, want in zip(tf.nest.flatten(clone(inputs)), tf.nest.flatten(outputs)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_hedged_head_shapes_and_positive_stddevs():
    head = HedgedHead(3, num_components=2, min_stddev=1e-6)
    head.build((None, 7))
    head.scale_branch.kernel.assign(np.ones((7, 6), np.float32))  # raw scales of -7e4
    out = head(-1e4 * np.ones((5, 7), np.float32))
    assert out["mixture_logits"].shape == (5, 2)
    assert out["means"].shape == out["stddevs"].shape == (5, 2, 3)
    assert np.all(out["stddevs"].numpy() > 0.0)
    np.testing.assert_array_equal(out["mixture_logits"], 0.0)


def test_hedged_head_starts_every_stddev_at_initial_stddev_and_the_means_spread():
    features = np.random.default_rng(0).normal(size=(50, 7)).astype(np.float32)
    out = HedgedHead(2, num_components=2, min_stddev=1e-3, initial_stddev=0.05)(features)
    np.testing.assert_allclose(out["stddevs"], 0.05, rtol=1e-5)
    assert np.all(out["means"].numpy().std(axis=0) > 0.1)


def test_hedged_head_rejects_initial_stddev_below_the_floor():
    with pytest.raises(ValueError, match="initial_stddev"):
        HedgedHead(2, min_stddev=0.1, initial_stddev=0.1)


def test_model_save_and_load_keeps_config_and_outputs(tmp_path):
    model = HIBModel(dim=3, num_components=2, learned_weights=True, num_samples=4, seed=7, **SMALL)
    images = _images(3, digits=2)
    expected = model.predict(images, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_config() == model.get_config()
    for key, value in loaded.predict(images, verbose=0).items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-6)
    np.testing.assert_allclose(loaded.a, model.a)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(num_components=3, num_samples=8), "multiple of num_components"),
        (dict(point=True, num_components=2), "point embedding"),
        (dict(loss_form="log"), "loss_form"),
    ],
)
def test_model_rejects_inconsistent_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HIBModel(**kwargs)


def _constant_embedding_model(stddev, b):
    """A MoG-1 model mapping every image to N(0.5, stddev^2 I), with the given b."""
    model = HIBModel(dim=2, **SMALL)
    model(_images(1))
    raw_scale = math.log(math.expm1(stddev))
    for branch, raw in ((model.head.mean_branch, 0.5), (model.head.scale_branch, raw_scale)):
        kernel, bias = branch.get_weights()
        branch.set_weights([np.zeros_like(kernel), np.full_like(bias, raw)])
    model.b.assign(b)
    return model


def test_uncertainty_grows_with_scale_from_one_minus_sigmoid_b():
    b = 1.5
    images = _images(4)
    etas = [
        _constant_embedding_model(stddev, b).uncertainty(images, seed=[1, 2]).numpy()
        for stddev in (1e-4, 0.1, 1.0, 10.0)
    ]
    floor = 1.0 - 1.0 / (1.0 + math.exp(-b))
    np.testing.assert_allclose(etas[0], floor, atol=1e-3)
    means = [eta.mean() for eta in etas]
    assert all(lo < hi for lo, hi in zip(means, means[1:])), means
    assert means[-1] > 0.95


def test_point_uncertainty_is_one_minus_sigmoid_b_and_outputs_are_tensors():
    model = HIBModel(dim=2, point=True, **SMALL)
    model(_images(1))
    model.b.assign(-0.7)
    images = _images(3)
    np.testing.assert_allclose(
        model.uncertainty(images), 1.0 - 1.0 / (1.0 + math.exp(0.7)), rtol=1e-6
    )
    probability = model.match_probability(images, images[::-1])
    assert probability.shape == (3,)
    embedding = model.predict(images, verbose=0)
    np.testing.assert_array_equal(embedding["stddevs"], 0.0)
    assert embedding["means"].shape == (3, 1, 2)


def test_uncertainty_is_repeatable_for_a_seed():
    model = HIBModel(dim=2, num_components=2, **SMALL)
    images = _images(4)
    first = model.uncertainty(images, seed=[3, 4]).numpy()
    np.testing.assert_array_equal(first, model.uncertainty(images, seed=[3, 4]))
    assert not np.array_equal(first, model.uncertainty(images, seed=[3, 5]))


def test_training_noise_depends_only_on_seed_and_step():
    images, labels = _images(8), np.array([0, 1] * 4)

    def train(seed, weights):
        model = HIBModel(dim=2, num_components=2, seed=seed, **SMALL)
        model(images[:1])
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        for _ in range(3):
            model.train_on_batch(images, labels)
        return model.get_weights()

    initial = HIBModel(dim=2, num_components=2, **SMALL)
    initial(images[:1])
    first, again, other = (train(seed, initial.get_weights()) for seed in (5, 5, 6))
    for x, y in zip(first, again):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)
    assert not all(np.allclose(x, y) for x, y in zip(first, other))


def test_mixed_bfloat16_keeps_embedding_and_loss_in_float32():
    model = HIBModel(dim=2, num_components=2, dtype="mixed_bfloat16", **SMALL)
    embedding = model(_images(2))
    assert all(value.dtype == tf.float32 for value in embedding.values())
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = model.train_on_batch(_images(8), np.array([0, 1] * 4), return_dict=True)
    assert all(np.isfinite(value) for value in logs.values())


def _two_class_dataset(batch, seed):
    """Class 0: a bright horizontal bar; class 1: a vertical bar; both at random places."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=batch)
    images = 0.1 * rng.uniform(size=(batch, 28, 28, 1))
    for image, label, start in zip(images, labels, rng.integers(2, 20, size=batch)):
        if label:
            image[:, start : start + 6] = 1.0
        else:
            image[start : start + 6, :] = 1.0
    return images.astype(np.float32), labels


@pytest.mark.parametrize("kwargs", [dict(point=True), dict(num_components=2, learned_weights=True)])
def test_fit_separates_two_classes(kwargs):
    keras.utils.set_random_seed(0)
    model = HIBModel(dim=2, num_samples=4, **SMALL, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    images, labels = _two_class_dataset(1024, seed=0)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(32)
    history = model.fit(dataset, steps_per_epoch=100, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "nll", "kl", "a", "b", "mean_stddev"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    test_images, test_labels = _two_class_dataset(64, seed=1)
    shuffled = np.random.default_rng(2).permutation(64)
    probability = model.match_probability(test_images, test_images[shuffled]).numpy()
    same = test_labels == test_labels[shuffled]
    # p(same) <= sigmoid(b) and b grows slowly, so ask for a clear ranking, not p > 0.5.
    ranked = np.mean(probability[same][:, None] > probability[~same][None, :])
    assert ranked > 0.95 and probability[same].mean() - probability[~same].mean() > 0.3
    logs = model.evaluate(test_images, test_labels, batch_size=32, verbose=0, return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["a"] > 0.0
