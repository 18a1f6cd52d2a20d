"""train.py and the training loop: config checks, resume, refusals, NaN stop, export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import synthetic_runs
from hib_tf.training import cli
from hib_tf.training import loop
from hib_tf.training.config import TrainConfig


class _Interrupted(Exception):
    pass


def _interrupt_at_step(monkeypatch, step):
    """Makes training raise `_Interrupted` right after `step`, as a killed run would stop."""
    original = loop._StopOnNonFiniteLoss.on_train_batch_end

    def interrupt(self, batch, logs=None):
        original(self, batch, logs)
        if int(self.model.optimizer.iterations.numpy()) == step:
            raise _Interrupted()

    monkeypatch.setattr(loop._StopOnNonFiniteLoss, "on_train_batch_end", interrupt)


def _config(tmp_path, **overrides):
    return synthetic_runs.config(tmp_path / "run", **overrides)


@pytest.mark.parametrize(
    "lr_schedule, optimizer", [("constant", "adam"), ("cosine", "adam"), ("cosine", "sgd")]
)
def test_interrupted_run_resumes_to_the_same_step_and_weights(
    tmp_path, monkeypatch, lr_schedule, optimizer
):
    straight = _config(tmp_path / "a", lr_schedule=lr_schedule, optimizer=optimizer)
    loop.train(straight, verbose=0, examples=synthetic_runs.examples())

    interrupted = _config(tmp_path / "b", lr_schedule=lr_schedule, optimizer=optimizer)
    _interrupt_at_step(monkeypatch, 3)
    with pytest.raises(_Interrupted):
        loop.train(interrupted, verbose=0, examples=synthetic_runs.examples())
    assert not (tmp_path / "b" / "run" / "saved_model").exists()
    monkeypatch.undo()
    loop.train(interrupted, verbose=0, examples=synthetic_runs.examples())

    step_a, weights_a = synthetic_runs.checkpointed(straight)
    step_b, weights_b = synthetic_runs.checkpointed(interrupted)
    assert step_a == step_b == 4
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert tf.saved_model.load(str(tmp_path / "b" / "run" / "saved_model")).digits == 2


def test_cosine_schedule_decays_from_the_learning_rate_to_zero_over_the_steps(tmp_path):
    config = _config(tmp_path, learning_rate=0.01, steps=100, lr_schedule="cosine")
    schedule = loop.learning_rate(config)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(50)) == pytest.approx(0.005)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-9)
    constant = _config(tmp_path, learning_rate=0.01, lr_schedule="constant")
    assert loop.learning_rate(constant) == 0.01


def test_sgd_is_nesterov_momentum_and_adam_the_default(tmp_path):
    sgd = loop.optimizer(_config(tmp_path, optimizer="sgd"))
    assert isinstance(sgd, keras.optimizers.SGD)
    assert (sgd.momentum, sgd.nesterov) == (0.9, True)
    assert isinstance(loop.optimizer(_config(tmp_path)), keras.optimizers.Adam)


def test_a_different_run_in_the_same_folder_is_refused(tmp_path):
    loop.prepare_run_folder(_config(tmp_path))
    with pytest.raises(loop.RunFolderError, match=r"differs in: dim \(there 2, now 3\), beta"):
        loop.prepare_run_folder(_config(tmp_path, dim=3, beta=0.0))


def test_a_moved_run_folder_resumes_with_its_data_elsewhere(tmp_path, monkeypatch):
    first = _config(tmp_path / "before")
    _interrupt_at_step(monkeypatch, 2)
    with pytest.raises(_Interrupted):
        loop.train(first, verbose=0, examples=synthetic_runs.examples())
    monkeypatch.undo()
    (tmp_path / "before").rename(tmp_path / "after")
    moved = _config(tmp_path / "after", data_dir=str(tmp_path / "data"), manual_dir="sources")
    assert moved.differences(first) == []
    loop.train(moved, verbose=0, examples=synthetic_runs.examples())
    assert synthetic_runs.checkpointed(moved)[0] == moved.steps


def test_a_checkpoint_of_another_model_layout_is_refused_and_kept(tmp_path, monkeypatch):
    config = _config(tmp_path)
    _interrupt_at_step(monkeypatch, 3)  # After the checkpoint of step 2.
    with pytest.raises(_Interrupted):
        loop.train(config, verbose=0, examples=synthetic_runs.examples())
    monkeypatch.undo()
    checkpoints = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    wider = loop.HIBModel  # The same config built by a hib_tf whose layers differ:
    monkeypatch.setattr(loop, "HIBModel", lambda **kwargs: wider(**{**kwargs, "filters1": 5}))
    with pytest.raises(loop.RunFolderError, match="another version of hib_tf"):
        loop.train(config, verbose=0, examples=synthetic_runs.examples())
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == checkpoints


def test_a_foreign_non_empty_folder_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(loop.RunFolderError, match="not empty"):
        loop.prepare_run_folder(_config(tmp_path))


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    config = _config(tmp_path, steps=6)
    _interrupt_at_step(monkeypatch, 3)
    with pytest.raises(_Interrupted):
        loop.train(config, verbose=0, examples=synthetic_runs.examples())
    monkeypatch.undo()
    step, good_weights = synthetic_runs.checkpointed(config)
    assert step == 2

    real_loss = loop.HIBModel._loss
    monkeypatch.setattr(
        loop.HIBModel,
        "_loss",
        lambda self, *args: {
            name: value * np.nan for name, value in real_loss(self, *args).items()
        },
    )
    with pytest.raises(loop.NonFiniteLossError, match="became nan at step 3"):
        loop.train(config, verbose=0, examples=synthetic_runs.examples())
    step, weights = synthetic_runs.checkpointed(config)
    assert step == 2
    for good, kept in zip(good_weights, weights):
        np.testing.assert_array_equal(good, kept)
    assert not (tmp_path / "run" / "saved_model").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--components", "3"], "multiple of components"),
        (["--point"], "point embedding has one component"),
        (["--steps", "150"], "multiple of log_every"),
        (["--batch_size", "32"], "batch_size must exceed 64"),
    ],
)
def test_bad_flags_exit_with_a_message(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv + ["--output_dir", str(tmp_path / "run")])
    assert message in str(exit_info.value.code)
    assert not (tmp_path / "run").exists()


def test_unknown_choice_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--digits", "5"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_default_output_dir_names_the_run():
    assert TrainConfig(dim=3, components=1).output_dir == "runs/2digit_number_d3_mog1_seed0"
    assert TrainConfig(point=True, components=1).output_dir.endswith("_point_seed0")
