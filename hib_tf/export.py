"""Export a trained :class:`~hib_tf.model.HIBModel` as a SavedModel served by plain TensorFlow.

The SavedModel holds explicit endpoints returning dicts of tensors (no TFP objects, no hib_tf
code), so ``tf.saved_model.load`` alone serves it::

    loaded = tf.saved_model.load(path)
    loaded.embed(images)                    # float32 in [0, 1] or uint8 in [0, 255]
    loaded.signatures["uncertainty"](images=images_float32)
    int(loaded.digits), float(loaded.a)

Endpoints (``images*``: [B, 28, 28 N, 1]; any other shape fails with a message naming it):

* ``embed(images)`` -> ``mixture_weights`` [B, C], ``means`` [B, C, D], ``stddevs`` [B, C, D];
  also the ``serving_default`` signature. A point embedding exports as C = 1 with stddevs 0.
* ``match_probability(images1, images2)`` -> ``match_probability`` [B], paired images.
* ``uncertainty(images)`` -> ``uncertainty`` [B], eta(x) = 1 - p(m | x, x).
* ``metadata()`` -> ``a``, ``b``, ``digits``, ``dim``, ``num_components``, ``num_samples``,
  ``point``; the same values are attributes (variables) of the loaded object.

Called as functions of the loaded object, endpoints take float32 images in [0, 1] or uint8 images
in [0, 255] (scaled by 1/255). A signature has one dtype: the SavedModel signatures (what
``saved_model_cli`` and TF Serving see) take float32 in [0, 1].

Monte-Carlo endpoints use a fixed stateless seed stored in the model (``seed``), so a served
score is deterministic: the same images always get the same score.
"""

import tensorflow as tf

IMAGE_HEIGHT = 28


def _checked_float_images(images, digits):
    """Checks the shape of images and scales them to float32 in [0, 1].

    Args:
      images: float32 in [0, 1] or uint8 in [0, 255], [B, 28, 28 N, 1].
      digits: N.

    Returns:
      float32 [B, 28, 28 N, 1] with a static shape.
    """
    width = IMAGE_HEIGHT * digits
    shape = tf.shape(images)
    has_expected_shape = tf.cond(
        tf.equal(tf.size(shape), 4),
        lambda: tf.reduce_all(tf.equal(shape[1:], [IMAGE_HEIGHT, width, 1])),
        lambda: tf.constant(False),
    )
    check = tf.debugging.Assert(
        has_expected_shape,
        [
            f"images must have shape [B, {IMAGE_HEIGHT}, {width}, 1] "
            f"([B, 28, 28N, 1] with N = {digits} digits, one channel); got shape",
            shape,
        ],
    )
    # Reshape to a target computed from the check, not a constant: shape inference in a caller's
    # graph then cannot reject a wrong shape before the check has given its message.
    target = tf.where(has_expected_shape, [-1, IMAGE_HEIGHT, width, 1], -1)
    with tf.control_dependencies([check]):
        images = tf.reshape(images, target)
    images.set_shape([None, IMAGE_HEIGHT, width, 1])
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return images


def export_saved_model(model, export_dir, digits, seed=0):
    """Writes ``model`` to ``export_dir`` as a SavedModel with the endpoints of this module.

    Args:
      model: a :class:`~hib_tf.model.HIBModel` for images of ``digits`` digits.
      export_dir: directory to write.
      digits: N, the number of digits of the input images (width 28 N).
      seed: int seed of the Monte-Carlo endpoints (``match_probability``, ``uncertainty``).

    Returns:
      The ``tf.Module`` that was saved; its functions compute what the SavedModel serves.
    """
    model(tf.zeros([1, IMAGE_HEIGHT, IMAGE_HEIGHT * digits, 1]))  # Builds an unbuilt model.
    module = tf.Module(name="hib_serving")
    module.model_weights = list(model.weights)
    module.a = tf.Variable(model.a, trainable=False, name="a")
    module.b = tf.Variable(tf.convert_to_tensor(model.b), trainable=False, name="b")
    module.digits = tf.Variable(digits, trainable=False, name="digits")
    module.dim = tf.Variable(model.dim, trainable=False, name="dim")
    module.num_components = tf.Variable(
        model.num_components, trainable=False, name="num_components"
    )
    module.num_samples = tf.Variable(
        1 if model.point else model.num_samples, trainable=False, name="num_samples"
    )
    module.point = tf.Variable(model.point, trainable=False, name="point")
    module.seed = tf.Variable([seed, -1], dtype=tf.int64, trainable=False, name="seed")

    @tf.function
    def embed(images):
        embedding = model(_checked_float_images(images, digits))
        return {
            "mixture_weights": tf.nn.softmax(embedding["mixture_logits"], axis=-1),
            "means": embedding["means"],
            "stddevs": embedding["stddevs"],
        }

    @tf.function
    def match_probability(images1, images2):
        probability = model.match_probability(
            _checked_float_images(images1, digits),
            _checked_float_images(images2, digits),
            seed=module.seed,
        )
        return {"match_probability": probability}

    @tf.function
    def uncertainty(images):
        return {
            "uncertainty": model.uncertainty(
                _checked_float_images(images, digits), seed=module.seed
            )
        }

    @tf.function(input_signature=[])
    def metadata():
        return {
            "a": tf.convert_to_tensor(module.a),
            "b": tf.convert_to_tensor(module.b),
            "digits": tf.convert_to_tensor(module.digits),
            "dim": tf.convert_to_tensor(module.dim),
            "num_components": tf.convert_to_tensor(module.num_components),
            "num_samples": tf.convert_to_tensor(module.num_samples),
            "point": tf.convert_to_tensor(module.point),
        }

    def trace(dtype):
        spec = tf.TensorSpec(None, dtype)
        return {
            "embed": embed.get_concrete_function(spec),
            "match_probability": match_probability.get_concrete_function(spec, spec),
            "uncertainty": uncertainty.get_concrete_function(spec),
        }

    trace(tf.uint8)  # Saved too: the loaded functions also take uint8 images.
    signatures = trace(tf.float32)
    module.embed = embed
    module.match_probability = match_probability
    module.uncertainty = uncertainty
    module.metadata = metadata
    tf.saved_model.save(
        module,
        export_dir,
        signatures={
            **signatures,
            "serving_default": signatures["embed"],
            "metadata": metadata.get_concrete_function(),
        },
    )
    return module
