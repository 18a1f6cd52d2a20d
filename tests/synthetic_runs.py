"""Tiny synthetic training runs shared by the training and distribution tests.

A plain module rather than conftest fixtures, because tests/test_distribute.py also runs as a
script in subprocesses, where pytest's conftest is not loaded.
"""

import os

import numpy as np
import tensorflow as tf

from hib_tf.training import loop
from hib_tf.training.config import TrainConfig


def examples(num_classes=20, per_class=8):
    """Example dicts like the n_digit_mnist train split: random 2-digit images."""
    rng = np.random.RandomState(0)
    labels = np.repeat(np.arange(num_classes), per_class)
    images = rng.randint(0, 256, (len(labels), 28, 56, 1)).astype(np.uint8)
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})


def config(folder, **overrides):
    """A 4-step MoG-2 run with tiny filters, checkpointed every 2 steps."""
    fields = dict(
        output_dir=str(folder),
        steps=4,
        log_every=2,
        checkpoint_every=2,
        filters=(4, 8),
        components=2,
        dim=2,
    )
    return TrainConfig(**{**fields, **overrides})


def checkpointed(run_config):
    """(step, trainable weights) of the run's latest checkpoint."""
    model = loop.build_model(run_config)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    latest = tf.train.latest_checkpoint(os.path.join(run_config.output_dir, "checkpoints"))
    checkpoint.restore(latest).expect_partial()
    return int(model.optimizer.iterations), [v.numpy() for v in model.trainable_variables]
