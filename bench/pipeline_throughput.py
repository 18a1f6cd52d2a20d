"""Input-pipeline throughput against what a training step consumes, measured in one run.

  python bench/pipeline_throughput.py --manual_dir ../shared/data [--digits 2]

The training step is a plain Keras CNN of the size SPEC.md section 3 describes (conv 5x5 ->
max-pool 2 -> conv 5x5 -> max-pool 2 -> flatten -> dense to D = 2, 32 and 64 filters) on
batches of 128 with a pairwise contrastive loss, fed from memory, so it times the model only.
Target (issue 2): the pipeline delivers at least 5x the images per second a step consumes.
"""

import argparse
import os
import platform
import time

import keras

import tensorflow as tf

from hib_tf.data import pipeline


def pipeline_rate(examples, warmup, steps):
    """(seconds to the first batch, steady-state images per second) of the pipeline."""
    start = time.perf_counter()
    iterator = iter(pipeline.training_batches(examples))
    next(iterator)
    first = time.perf_counter() - start
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        images, _ = next(iterator)
    _ = images.numpy()
    return first, steps * images.shape[0] / (time.perf_counter() - start)


def training_rate(image_shape, steps, batch_size=128):
    """Images per second a plain CNN training step consumes."""
    model = keras.Sequential(
        [
            keras.Input(image_shape),
            keras.layers.Conv2D(32, 5, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 5, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    optimizer = keras.optimizers.Adam()

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            z = model(images, training=True)
            distance = tf.sqrt(tf.reduce_sum(tf.square(z[:, None] - z[None]), -1) + 1e-8)
            match = tf.cast(labels[:, None] == labels[None], tf.float32)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(match, 1.0 - distance))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    images = tf.random.uniform([batch_size, *image_shape])
    labels = tf.random.uniform([batch_size], 0, 10, tf.int64)
    for _ in range(5):
        step(images, labels)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(images, labels)
    loss.numpy()
    return steps * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manual_dir", required=True, help="MNIST and index tables folder.")
    parser.add_argument("--data_dir", default=None, help="TFDS data folder.")
    parser.add_argument("--digits", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    examples = pipeline.load_split(
        args.digits, "number", "train", data_dir=args.data_dir, manual_dir=args.manual_dir
    )
    first, rate = pipeline_rate(examples, warmup=20, steps=args.steps)
    consumed = training_rate((28, 28 * args.digits, 1), steps=args.steps // 3)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, tf {tf.__version__}")
    print(
        "| digits | first batch s (decodes the split) | pipeline img/s | training img/s | ratio |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {args.digits} | {first:.1f} | {rate:,.0f} | {consumed:,.0f} | {rate / consumed:.1f} |"
    )


if __name__ == "__main__":
    main()
