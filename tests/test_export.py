"""Export -> load in a fresh TensorFlow-only process -> outputs equal the in-memory model's."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from hib_tf.export import export_saved_model
from hib_tf.model import HIBModel

DIGITS = 2
SEED = 3
MODELS = {
    "point": dict(point=True),
    "mog2": dict(num_components=2, learned_weights=True, num_samples=4),
}

# Runs in a fresh interpreter with neither hib_tf nor TFP importable; for each
# (export_dir, inputs.npz, outputs.npz) triple in argv, writes what the loaded model computes.
LOAD_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf

    args = sys.argv[1:]
    for export_dir, inputs_path, outputs_path in zip(args[::3], args[1::3], args[2::3]):
        inputs = np.load(inputs_path)
        loaded = tf.saved_model.load(export_dir)
        images, others = inputs["images"], inputs["others"]
        outputs = {f"embed/{k}": v.numpy() for k, v in loaded.embed(images).items()}
        outputs.update({f"signature/{k}": v.numpy() for k, v in
                        loaded.signatures["serving_default"](images=images).items()})
        outputs.update({f"uint8/{k}": v.numpy()
                        for k, v in loaded.embed(inputs["images_uint8"]).items()})
        outputs["uncertainty"] = loaded.signatures["uncertainty"](images=images)["uncertainty"]
        outputs["match_probability"] = loaded.match_probability(images, others)[
            "match_probability"]
        outputs.update({f"metadata/{k}": v.numpy()
                        for k, v in loaded.signatures["metadata"]().items()})
        outputs["attributes"] = [float(loaded.a), float(loaded.b), int(loaded.digits)]
        try:
            loaded.uncertainty(images[:, :, :28])
        except tf.errors.InvalidArgumentError as error:
            outputs["shape_error"] = str(error)
        outputs["leaked_modules"] = ",".join(
            m for m in ("hib_tf", "tensorflow_probability", "tf_keras") if m in sys.modules)
        np.savez(outputs_path, **outputs)
""")


def _export(name, tmp):
    model = HIBModel(dim=3, filters1=4, filters2=8, seed=11, **MODELS[name])
    model(tf.zeros([1, 28, 28 * DIGITS, 1]))
    model.b.assign(0.25)
    rng = np.random.default_rng(0)
    images_uint8 = rng.integers(0, 256, size=(5, 28, 28 * DIGITS, 1), dtype=np.uint8)
    inputs = {
        "images": rng.uniform(size=images_uint8.shape).astype(np.float32),
        "others": rng.uniform(size=images_uint8.shape).astype(np.float32),
        "images_uint8": images_uint8,
    }
    np.savez(tmp / f"{name}_inputs.npz", **inputs)
    export_saved_model(model, str(tmp / name), digits=DIGITS, seed=SEED)
    return model, inputs


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Exports every model of MODELS and reloads them all in one TensorFlow-only subprocess.

    Returns:
      (dict name -> (model, inputs, outputs of the reloaded model),
       ``saved_model_cli show --all`` output for the mog2 export).
    """
    tmp = tmp_path_factory.mktemp("export")
    models = {name: _export(name, tmp) for name in MODELS}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    args = [
        str(tmp / f"{name}{suffix}")
        for name in MODELS
        for suffix in ("", "_inputs.npz", "_outputs.npz")
    ]
    with subprocess.Popen(
        [cli, "show", "--dir", str(tmp / "mog2"), "--all"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as shown:
        subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT, *args],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
        )
        listed = shown.communicate()[0]
    assert shown.returncode == 0
    return {
        name: (model, inputs, dict(np.load(tmp / f"{name}_outputs.npz")))
        for name, (model, inputs) in models.items()
    }, listed


@pytest.fixture(params=sorted(MODELS))
def exported(request, exports):
    """(model, inputs, outputs of the reloaded model) for each model of MODELS."""
    return exports[0][request.param]


def _expected_embedding(model, images):
    embedding = model(images)
    return {
        "mixture_weights": tf.nn.softmax(embedding["mixture_logits"]).numpy(),
        "means": embedding["means"].numpy(),
        "stddevs": embedding["stddevs"].numpy(),
    }


def test_loaded_without_hib_tf_or_tfp(exported):
    _, _, outputs = exported
    assert str(outputs["leaked_modules"]) == ""


def test_embed_matches_the_model_for_float_and_uint8_images(exported):
    model, inputs, outputs = exported
    expected = _expected_embedding(model, inputs["images"])
    expected_uint8 = _expected_embedding(model, inputs["images_uint8"].astype(np.float32) / 255)
    for key, value in expected.items():
        np.testing.assert_allclose(outputs[f"embed/{key}"], value, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(outputs[f"signature/{key}"], value, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            outputs[f"uint8/{key}"], expected_uint8[key], rtol=1e-5, atol=1e-6
        )
    assert outputs["embed/means"].shape == (5, model.num_components, 3)
    if model.point:
        np.testing.assert_array_equal(outputs["embed/stddevs"], 0.0)


def test_monte_carlo_endpoints_match_the_model(exported):
    model, inputs, outputs = exported
    seed = tf.constant([SEED, -1])
    np.testing.assert_allclose(
        outputs["uncertainty"], model.uncertainty(inputs["images"], seed=seed), rtol=1e-5
    )
    np.testing.assert_allclose(
        outputs["match_probability"],
        model.match_probability(inputs["images"], inputs["others"], seed=seed),
        rtol=1e-5,
    )


def test_metadata(exported):
    model, _, outputs = exported
    np.testing.assert_allclose(outputs["attributes"], [float(model.a), 0.25, DIGITS], rtol=1e-6)
    assert int(outputs["metadata/digits"]) == DIGITS
    assert int(outputs["metadata/dim"]) == 3
    assert int(outputs["metadata/num_components"]) == model.num_components
    assert bool(outputs["metadata/point"]) == model.point
    np.testing.assert_allclose(outputs["metadata/a"], float(model.a), rtol=1e-6)


def test_wrong_shape_names_the_expected_shape(exported):
    _, _, outputs = exported
    assert "images must have shape [B, 28, 56, 1]" in str(outputs["shape_error"])


def test_saved_model_cli_lists_the_signatures(exports):
    _, listed = exports
    for name in ("embed", "match_probability", "uncertainty", "metadata", "serving_default"):
        assert f"signature_def['{name}']" in listed
    for name in ("mixture_weights", "means", "stddevs", "match_probability", "uncertainty"):
        assert f"['{name}'] tensor_info" in listed
