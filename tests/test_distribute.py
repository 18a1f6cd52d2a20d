"""Training under tf.distribute strategies, and runs killed by SIGKILL.

Tests that need two devices run this file as a script in a subprocess that splits the CPU into
two logical devices, which must happen before TensorFlow initialises its devices; the rest of
the suite keeps one device. `python tests/test_distribute.py COMMAND FOLDER` runs one command.
"""

import argparse
import math
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import synthetic_runs
from hib_tf import losses
from hib_tf.data import pipeline
from hib_tf.model import HIBModel
from hib_tf.training import cli
from hib_tf.training import distributed_fit
from hib_tf.training import loop
from hib_tf.training import strategy as strategies
from hib_tf.training.config import TrainConfig

CHILD_TIMEOUT_S = 240


def _child(command, folder, *args):
    """Runs this file as a script; returns its completed process."""
    return subprocess.run(
        [sys.executable, __file__, command, str(folder), *args],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )


def _check(child):
    assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-6000:]


# --- Tests run by pytest. --------------------------------------------------------------------


def test_one_mirrored_step_on_two_devices_matches_the_default_strategy(tmp_path):
    _check(_child("mirrored_step", tmp_path))


def test_nan_under_mirrored_strategy_stops_and_keeps_the_last_checkpoint(tmp_path):
    _check(_child("mirrored_nan", tmp_path))


def test_a_run_killed_by_sigkill_resumes_to_the_same_end(tmp_path):
    steps = 12
    folder = tmp_path / "killed"
    command = [sys.executable, __file__, "train", str(folder), "--steps", str(steps)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        index = folder / "checkpoints" / "checkpoint"
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while not index.exists():
            assert child.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert not (folder / "saved_model").exists()
    # Leftovers that a save killed midway could leave: never restored.
    checkpoints = folder / "checkpoints"
    (checkpoints / "ckpt-98_temp").mkdir()
    (checkpoints / "ckpt-98_temp" / "part-00000-of-00001.index").write_bytes(b"partial")
    (checkpoints / "ckpt-99.index").write_bytes(b"partial")

    resumed = subprocess.run(
        command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
    )
    _check(resumed)
    assert "Resuming" in resumed.stdout

    straight = synthetic_runs.config(tmp_path / "straight", steps=steps)
    loop.train(straight, verbose=0, examples=synthetic_runs.examples())
    step, weights = synthetic_runs.checkpointed(synthetic_runs.config(folder, steps=steps))
    straight_step, straight_weights = synthetic_runs.checkpointed(straight)
    assert step == straight_step == steps
    for kept, straight in zip(weights, straight_weights):
        np.testing.assert_allclose(kept, straight, rtol=1e-4, atol=1e-5)
    served = tf.saved_model.load(str(folder / "saved_model"))
    embedding = served.embed(tf.zeros([2, 28, 56, 1]))
    assert np.isfinite(embedding["means"].numpy()).all()


def test_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="strategy must be one of"):
        TrainConfig(strategy="tpu")


def test_multi_worker_without_tf_config_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--strategy", "multi_worker", "--output_dir", str(tmp_path / "run")])
    assert "needs the TF_CONFIG environment variable" in str(exit_info.value.code)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "batch_size, replicas, layout",
    [(128, 1, (128, 16)), (128, 2, (64, 8)), (128, 4, (32, 4)), (128, 8, (16, 3))],
)
def test_each_replica_gets_a_class_balanced_share(batch_size, replicas, layout):
    images, classes = strategies.replica_layout(batch_size, replicas)
    assert (images, classes) == layout
    assert classes * math.comb(strategies.IMAGES_PER_CLASS, 2) >= strategies.MIN_POSITIVE_PAIRS


@pytest.mark.parametrize("batch_size, replicas", [(128, 3), (96, 16)])
def test_a_batch_that_does_not_split_is_refused(batch_size, replicas):
    with pytest.raises(ValueError, match=f"does not split into {replicas} class-balanced"):
        strategies.replica_layout(batch_size, replicas)


@pytest.mark.parametrize(
    "task_type, task_id, cluster, chief",
    [
        (None, None, {}, True),
        ("worker", 0, {"worker": ["a:1", "b:2"]}, True),
        ("worker", 1, {"worker": ["a:1", "b:2"]}, False),
        ("worker", 0, {"chief": ["c:0"], "worker": ["a:1"]}, False),
        ("chief", 0, {"chief": ["c:0"], "worker": ["a:1"]}, True),
    ],
)
def test_only_the_chief_writes_the_run_folder(task_type, task_id, cluster, chief):
    assert strategies.is_chief_task(task_type, task_id, cluster) == chief


# --- Commands run in a subprocess. ------------------------------------------------------------


def _two_cpu_strategy():
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = strategies.make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    return strategy


def mirrored_step(folder):
    """One MirroredStrategy step on two devices against the same step computed on one.

    Each replica scores the pairs of its own half of the global batch, so the reference is the
    mean of the two halves' losses, each half with its replica's noise seed, on one device.
    Both use SGD: Adam's first step is lr * sign(gradient), blind to how the replicas'
    gradients are scaled, which is what this checks.
    """
    strategy = _two_cpu_strategy()
    config = synthetic_runs.config(folder, strategy="mirrored")
    with strategy.scope():
        mirrored = loop.build_model(config)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.5))
    single = loop.build_model(config)
    single.compile(optimizer=keras.optimizers.SGD(0.5))
    for a, b in zip(mirrored.trainable_variables, single.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    batches = strategies.replica_batches(strategy, synthetic_runs.examples(), config, start_step=0)
    logs = distributed_fit.fit(
        mirrored,
        strategy,
        batches,
        initial_epoch=0,
        epochs=1,
        steps_per_epoch=1,
        callbacks=[],
        verbose=0,
    ).history

    images, classes = strategies.replica_layout(config.batch_size, 2)
    halves = pipeline.training_batches(
        synthetic_runs.examples(), batch_size=images, classes_per_batch=classes, seed=config.seed
    ).take(2)
    with tf.GradientTape() as tape:
        half_losses = []
        for replica, (half_images, half_labels) in enumerate(halves):
            same = half_labels[:, None] == half_labels[None, :]
            assert (tf.reduce_sum(tf.cast(same, tf.int32)) - images) // 2 >= 16
            loss = losses.hib_loss(
                single(half_images),
                half_labels,
                single.a,
                single.b,
                num_samples=config.samples,
                beta=config.beta,
                loss_form=config.loss_form,
                seed=tf.constant([config.seed, replica], tf.int64),
            )["loss"]
            half_losses.append(loss)
        loss = tf.reduce_mean(half_losses)
    variables = single.trainable_variables
    single.optimizer.apply(tape.gradient(loss, variables), variables)

    np.testing.assert_allclose(logs["loss"][0], loss.numpy(), rtol=1e-5)
    for a, b in zip(mirrored.trainable_variables, single.trainable_variables):
        for copy in strategy.experimental_local_results(a.value):
            np.testing.assert_allclose(copy.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def mirrored_nan(folder):
    """train() on two devices stops at a NaN loss, and then resumes to the export.

    The NaN at step 3 must leave step 2's checkpoint as the latest; the same call without the
    NaN then resumes from it, as rerunning the command would.
    """
    _two_cpu_strategy()
    config = synthetic_runs.config(folder, strategy="mirrored", steps=6)
    real_loss = HIBModel._loss

    def nan_from_step_3(self, *args):
        factor = tf.where(self.optimizer.iterations >= 2, np.nan, 1.0)
        return {name: value * factor for name, value in real_loss(self, *args).items()}

    HIBModel._loss = nan_from_step_3
    try:
        loop.train(config, verbose=0, examples=synthetic_runs.examples())
        raise AssertionError("training did not stop")
    except loop.NonFiniteLossError as error:
        assert "became nan at step 3" in str(error), error
    finally:
        HIBModel._loss = real_loss
    step, weights = synthetic_runs.checkpointed(config)
    assert step == 2, step
    assert all(np.isfinite(w).all() for w in weights)
    assert not (pathlib.Path(folder) / "saved_model").exists()

    export_dir = loop.train(config, verbose=0, examples=synthetic_runs.examples())
    assert synthetic_runs.checkpointed(config)[0] == config.steps
    assert tf.saved_model.load(str(export_dir)).digits == 2


def _train(folder, steps):
    loop.train(
        synthetic_runs.config(folder, steps=steps), verbose=0, examples=synthetic_runs.examples()
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("mirrored_step", "mirrored_nan", "train"))
    parser.add_argument("folder")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    if args.command == "train":
        _train(args.folder, args.steps)
    else:
        {"mirrored_step": mirrored_step, "mirrored_nan": mirrored_nan}[args.command](args.folder)
