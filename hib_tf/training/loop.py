"""Runs a training job: run folder, resume, training, checkpoints, and the final export.

A run folder holds:
  config.json    the TrainConfig; a different config in the same folder is refused.
  checkpoints/   tf.train.CheckpointManager checkpoints of the model and optimizer (the 3
                 latest), and the `checkpoint` index file that names them.
  logs/          TensorBoard logs; history.csv, the metrics every `log_every` steps.
  saved_model/   the serving export, written to a temporary folder and renamed into place
                 when complete, so a reader never sees a half-written model.

Training data and Monte-Carlo noise are functions of (seed, step), so a resumed run sees
the batches and noise it would have seen without the interruption.

A run killed at any moment, SIGKILL included, resumes from a complete checkpoint: saving ckpt-N
writes its shards into ckpt-N_temp/ and merges them into ckpt-N.index and ckpt-N.data-*; only
then does CheckpointManager record ckpt-N in the `checkpoint` index file, which TensorFlow
replaces atomically (written to a temporary file, then renamed). Resuming reads that index
only (`tf.train.latest_checkpoint`, which also checks that the named files exist), so the
leftovers of a save killed midway are never restored, and are overwritten when the resumed run
saves step N again. A NaN or Inf loss stops training before the next checkpoint is saved.
"""

import math
import os
import shutil

from etils import epath
import keras
import tensorflow as tf

from hib_tf import export
from hib_tf.data import pipeline
from hib_tf.model import HIBModel
from hib_tf.training.config import CONFIG_FILENAME
from hib_tf.training import distributed_fit
from hib_tf.training import strategy as strategies
from hib_tf.training.config import TrainConfig

SAVED_MODEL_DIRNAME = "saved_model"
CHECKPOINTS_DIRNAME = "checkpoints"


class RunFolderError(ValueError):
    """The output folder belongs to another run."""


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or Inf; the last good checkpoint is left as it was."""


def learning_rate(config):
    """The learning rate: constant, or a cosine decay to 0 over the run's steps.

    The schedule is a function of the optimizer's step counter, which the checkpoint restores,
    so a resumed run continues on the same curve.
    """
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, config.steps)
    return config.learning_rate


def optimizer(config):
    """Adam, or SGD with Nesterov momentum, at the config's learning rate.

    The paper names no optimizer; SGD is there so that the study can say how much the choice
    matters, with the momentum most image models train with.
    """
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate(config), momentum=0.9, nesterov=True)
    return keras.optimizers.Adam(learning_rate(config))


def build_model(config):
    """The HIBModel of a config, with its variables and the optimizer's created."""
    keras.utils.set_random_seed(config.seed)  # Seeds the weight initialisers.
    model = HIBModel(
        dim=config.dim,
        num_components=config.components,
        point=config.point,
        num_samples=config.samples,
        beta=config.beta,
        loss_form=config.loss_form,
        learned_weights=config.learned_weights,
        filters1=config.filters[0],
        filters2=config.filters[1],
        seed=config.seed,
    )
    model.compile(optimizer=optimizer(config), jit_compile=config.jit_compile)
    model(tf.zeros([1, 28, 28 * config.digits, 1]))
    model.optimizer.build(model.trainable_variables)
    return model


def prepare_run_folder(config, write=True):
    """Creates the run folder, or checks that an existing one holds this same run.

    Args:
      config: TrainConfig.
      write: create the folder and its config.json if needed; False on multi-worker
        non-chief workers, which only check an existing config (the chief writes it).

    Raises:
      RunFolderError: if the folder holds another run's config.
    """
    folder = epath.Path(config.output_dir)
    config_path = folder / CONFIG_FILENAME
    if config_path.exists():
        previous = TrainConfig.from_json(config_path.read_text())
        changed = [
            f"{name} (there {getattr(previous, name)!r}, now {getattr(config, name)!r})"
            for name in config.differences(previous)
        ]
        if changed:
            raise RunFolderError(
                f"{folder} holds another run (its {CONFIG_FILENAME} differs in: "
                f"{', '.join(changed)}). Choose a new --output_dir, or repeat that run's exact "
                "command to resume it."
            )
        return
    if not write:
        return
    if folder.exists() and any(folder.iterdir()):
        raise RunFolderError(
            f"{folder} is not empty and holds no {CONFIG_FILENAME}: refusing to write a run "
            "into it. Choose a new --output_dir."
        )
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / (CONFIG_FILENAME + ".tmp")
    temporary.write_text(config.to_json())
    os.replace(temporary, config_path)


def _step(model):
    """The model's training step, a Python int (also of a mirrored variable)."""
    return int(model.optimizer.iterations.numpy())


class _CheckpointEvery(keras.callbacks.Callback):
    """Saves a checkpoint every `every` steps, and at the end of training."""

    def __init__(self, manager, every):
        super().__init__()
        self._manager, self._every, self._saved_step = manager, every, None

    def on_epoch_end(self, epoch, logs=None):
        if _step(self.model) % self._every == 0:
            self._save()

    def on_train_end(self, logs=None):
        if self._saved_step != _step(self.model):
            self._save()

    def _save(self):
        self._saved_step = _step(self.model)
        self._manager.save(checkpoint_number=self._saved_step)


class _StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops at the first NaN or Inf loss, before any checkpoint can save bad weights."""

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            step = _step(self.model)
            raise NonFiniteLossError(
                f"The training loss became {loss} at step {step}. Training stopped; the last good "
                "checkpoint is left as it was. Lower --learning_rate, or check the data."
            )


def train(config, *, verbose=1, examples=None, callbacks=()):
    """Trains (or resumes) the run of `config` and exports its SavedModel.

    The model, optimizer and checkpoint are created under the strategy of `config.strategy`;
    in a multi-worker run every worker calls this with the same config, restores from the
    chief's checkpoints, and only the chief writes into the run folder (see
    :mod:`hib_tf.training.strategy`).

    Args:
      config: TrainConfig.
      verbose: Keras progress output (1: progress bar, 2: a line per log interval, 0: none).
      examples: optional tf.data.Dataset of example dicts to train on instead of the
        n_digit_mnist train split (tests use small synthetic data).
      callbacks: extra Keras callbacks (benchmarks time the steps with one).

    Returns:
      Path of the exported SavedModel.
    """
    # First: a multi-worker strategy must be created before TensorFlow runs any op.
    strategy = strategies.make_strategy(config.strategy)
    prepare_run_folder(config, write=strategies.is_chief(strategy))
    folder = epath.Path(config.output_dir)
    export_dir = folder / SAVED_MODEL_DIRNAME
    with strategy.scope():
        model = build_model(config)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    # The `checkpoint` index file names only complete checkpoints (see the module docstring).
    latest = tf.train.latest_checkpoint(os.fspath(folder / CHECKPOINTS_DIRNAME))
    if latest:
        try:
            checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise RunFolderError(
                f"Cannot resume {folder}: its checkpoint {latest} does not fit the model this "
                f"hib_tf builds ({error}). It was written by another version of hib_tf (the "
                "hedged head's layout changed when its scale branch got its own start); train "
                "into a new --output_dir, or resume with the version that wrote it."
            ) from error
    step = _step(model)
    if step >= config.steps and export_dir.exists():
        print(f"{folder}: already trained for {step} steps and exported to {export_dir}.")
        return export_dir
    if step:
        print(f"Resuming {folder} from step {step} ({latest}).")
    if examples is None:
        examples = pipeline.load_split(
            config.digits,
            config.gap,
            "train",
            data_dir=config.data_dir,
            manual_dir=config.manual_dir,
        )
    batches = strategies.replica_batches(strategy, examples, config, start_step=step)
    with strategies.write_folder(strategy, folder) as writes:
        manager = tf.train.CheckpointManager(
            checkpoint, os.fspath(writes / CHECKPOINTS_DIRNAME), max_to_keep=3
        )
        if step < config.steps:
            distributed_fit.fit(
                model,
                strategy,
                batches,
                initial_epoch=step // config.log_every,
                epochs=config.steps // config.log_every,
                steps_per_epoch=config.log_every,
                verbose=verbose,
                callbacks=[
                    _StopOnNonFiniteLoss(),
                    _CheckpointEvery(manager, config.checkpoint_every),
                    keras.callbacks.TensorBoard(os.fspath(writes / "logs")),
                    keras.callbacks.CSVLogger(os.fspath(writes / "history.csv"), append=True),
                    *callbacks,
                ],
            )
        export_atomically(model, writes / SAVED_MODEL_DIRNAME, config)
    return export_dir


def export_atomically(model, export_dir, config):
    """Exports to a temporary sibling folder, then renames it into place."""
    export_dir = epath.Path(export_dir)
    temporary = export_dir.with_name(export_dir.name + ".tmp")
    if temporary.exists():
        shutil.rmtree(temporary)
    export.export_saved_model(model, os.fspath(temporary), config.digits, seed=config.seed)
    if export_dir.exists():
        shutil.rmtree(export_dir)
    os.replace(temporary, export_dir)
    print(f"SavedModel written to {export_dir}")
    return export_dir
