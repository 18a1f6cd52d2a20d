"""The study driver's records: what lets bench/reproduce.py go on from a clean checkout."""

import argparse
import importlib.util
import json
import pathlib
import shutil

import pytest

DRIVER = pathlib.Path(__file__).resolve().parents[1] / "bench" / "reproduce.py"


@pytest.fixture
def reproduce(tmp_path, monkeypatch):
    """bench/reproduce.py with its run, record and figure folders under tmp_path."""
    spec = importlib.util.spec_from_file_location("reproduce", DRIVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("RUNS", "RECORDS", "FIGURES"):
        monkeypatch.setattr(module, name, tmp_path / name.lower())
    module.FIGURES.mkdir()
    return module


def _finished_run_folder(reproduce, run, knn=0.5):
    """A run folder as train.py and evaluate.py leave it (only what the record reads)."""
    folder = reproduce.RUNS / run.name
    (folder / "evaluation" / "figures").mkdir(parents=True)
    (folder / "saved_model").mkdir()
    (folder / "config.json").write_text(json.dumps({"steps": 4000, "learning_rate": 0.01}))
    (folder / reproduce.TRAIN_SECONDS).write_text("125.0\n")
    metrics = {"splits": {"test_seen": {"clean": {"knn_accuracy": knn}}}}
    (folder / "evaluation" / "metrics.json").write_text(json.dumps(metrics))
    for figure in reproduce.FIGURE_KINDS:
        (folder / "evaluation" / "figures" / f"test_seen_{figure}.png").write_bytes(b"png")
    return folder


ARGS = argparse.Namespace(data_dir=None, manual_dir=None, steps=None)


def _run(reproduce, name):
    return next(run for run in reproduce.grid() if run.name == name)


def test_a_recorded_run_is_reported_and_never_redone_without_its_run_folder(reproduce, monkeypatch):
    def no_command(command):
        raise AssertionError(f"a finished run was redone: {command}")

    monkeypatch.setattr(reproduce, "run_command", no_command)
    run = _run(reproduce, "n2_d2_MoG-2")
    folder = _finished_run_folder(reproduce, run, knn=0.75)
    reproduce.execute(run, ARGS)  # Trained and evaluated already: only recorded.
    shutil.rmtree(folder)  # A new machine: the run folder is gone, the record is not.
    reproduce.execute(run, ARGS)
    found = reproduce.load_metrics(reproduce.grid())
    assert list(found) == [run.name]
    assert found[run.name][1]["splits"]["test_seen"]["clean"]["knn_accuracy"] == 0.75
    assert "2.1 minutes" in "\n".join(reproduce._settings(found))
    assert reproduce._machines(found) == [f"- {reproduce.this_machine()}: 1 runs ({run.name})"]
    assert (reproduce.FIGURES / "study_n2_d2_MoG-2_test_seen_embeddings.png").exists()
    assert "figures/study_n2_d2_MoG-2_test_seen_embeddings.png" in "\n".join(
        reproduce._figures(found)
    )


def test_a_run_recorded_without_its_metrics_is_not_recorded(reproduce):
    run = _run(reproduce, "n2_d2_point")
    folder = _finished_run_folder(reproduce, run)
    (folder / "evaluation" / "metrics.json").unlink()
    with pytest.raises(FileNotFoundError):
        reproduce.record(run)
    assert not reproduce.is_recorded(run)
    assert reproduce.load_metrics(reproduce.grid()) == {}


def test_a_record_made_under_other_train_py_defaults_is_named_and_not_passed_off(
    reproduce, monkeypatch
):
    run = _run(reproduce, "n2_d2_MoG-2")
    record = reproduce.RECORDS / run.name
    record.mkdir(parents=True)
    (record / "metrics.json").write_text("{}")
    settings = json.loads(reproduce.current_config(run).to_json())
    (record / "config.json").write_text(json.dumps(settings))
    assert reproduce.stale_records([run]) == {}
    # Made before --optimizer existed: it trained with Adam, the default, so it is current.
    del settings["optimizer"]
    (record / "config.json").write_text(json.dumps(settings))
    assert reproduce.stale_records([run]) == {}
    (record / "config.json").write_text(json.dumps({**settings, "beta": 0.5}))
    assert reproduce.stale_records([run]) == {run.name: [("beta", 0.5, settings["beta"])]}
    (record / "config.json").write_text(json.dumps({**settings, "learning_rate": 1.0}))
    now = settings["learning_rate"]
    assert reproduce.stale_records([run]) == {run.name: [("learning_rate", 1.0, now)]}
    monkeypatch.setattr(reproduce, "execute", lambda *_: pytest.fail("a stale run was skipped"))
    monkeypatch.setattr("sys.argv", ["reproduce.py", "--only", run.name])
    with pytest.raises(SystemExit, match=rf"n2_d2_MoG-2: learning_rate 1.0 \(now {now}\)"):
        reproduce.main()


def _record(reproduce, name, knn, **config):
    folder = reproduce.RECORDS / name
    folder.mkdir(parents=True)
    settings = {"steps": 4000, "lr_schedule": "cosine", "filters": [16, 32], **config}
    (folder / "config.json").write_text(json.dumps(settings))
    scores = {"verification_ap": 0.9, "knn_accuracy": knn}
    metrics = {"splits": {"test_seen": {"clean": scores, "corrupt": scores}}}
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_the_rate_check_pairs_search_runs_with_their_grid_twin_and_counts_a_twin_once(reproduce):
    _record(reproduce, "n2_d2_MoG-2", 0.80, learning_rate=0.02)  # Not the 12,000-step row's.
    _record(reproduce, "n2_d2_MoG-2_seed1", 0.70, learning_rate=0.01)
    _record(reproduce, "search/MoG-2_s4000_lr3e-3_cosine", 0.90, learning_rate=0.003)
    _record(reproduce, "search/MoG-2_s4000_lr3e-3_cosine_again", 0.86, learning_rate=0.003)
    _record(reproduce, "search/MoG-2_s4000_lr3e-3_cosine_seed1", 0.60, learning_rate=0.003)
    _record(reproduce, "search/MoG-2_s12000_lr1e-2_cosine", 0.99, learning_rate=0.01, steps=12000)
    lines = reproduce._rate_check(
        reproduce.load_metrics(reproduce.search()), reproduce.load_metrics(reproduce.grid())
    )
    rows = [line for line in lines if line.startswith("| MoG-2")]
    assert len(rows) == 3  # Not the 12,000-step run: its grid twin trained another length.
    assert "| MoG-2_s4000_lr3e-3_cosine_seed1 | 0.01 -> 0.003 |" in rows[1]
    assert "0.700 -> 0.600 (-0.100)" in rows[1]
    # Seed 0 changes by +0.08 on average over its two runs, seed 1 by -0.10: the mean of the two.
    assert "| change: mean ± std over the 2 grid runs | | +0.000 ± 0.000" in lines[-1]
    assert "-0.010 ± 0.127 |" in lines[-1]
