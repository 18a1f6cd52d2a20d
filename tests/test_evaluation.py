"""evaluate.py: metrics against scikit-learn and closed forms, the all-pairs scan against a naive
loop, and the command line end to end on a tiny SavedModel and the fake 2digit_number dataset."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit
from sklearn import metrics as sk_metrics

from hib_tf.evaluation import cli
from hib_tf.evaluation import data
from hib_tf.evaluation import evaluator
from hib_tf.evaluation import metrics
from hib_tf.evaluation import saved_model
from hib_tf.evaluation import scoring
from hib_tf.export import export_saved_model
from hib_tf.model import HIBModel


def _export(folder, digits=2, b=0.0, **kwargs):
    model = HIBModel(filters1=4, filters2=8, seed=1, **kwargs)
    model(tf.zeros([1, 28, 28 * digits, 1]))
    model.b.assign(b)
    export_saved_model(model, str(folder), digits=digits)
    return str(folder)


@pytest.fixture(scope="module")
def mog2_model(tmp_path_factory):
    return _export(tmp_path_factory.mktemp("mog2") / "saved_model", dim=2, num_components=2)


@pytest.fixture(scope="module")
def point_model(tmp_path_factory):
    """A 1-D point embedding with b = 0.7."""
    return _export(tmp_path_factory.mktemp("point") / "saved_model", b=0.7, dim=1, point=True)


@pytest.fixture(scope="module")
def data_dir(fake_builder):
    return str(pathlib.Path(fake_builder.data_dir).parents[2])


def test_average_precision_equals_scikit_learn():
    rng = np.random.default_rng(0)
    is_match = rng.random(500) < 0.3
    scores = np.round(rng.random(500) + 0.3 * is_match, 1)  # Many ties.
    for s in (scores, -scores, rng.random(500)):
        np.testing.assert_allclose(
            metrics.average_precision(is_match, s),
            sk_metrics.average_precision_score(is_match, s),
            rtol=1e-12,
        )
    assert np.isnan(metrics.average_precision(np.zeros(3, bool), np.arange(3.0)))


def test_knn_on_a_constructed_embedding():
    # Four tight, distant clusters of 6; two images sit in another class's cluster.
    labels = np.repeat(np.arange(4), 6)
    points = np.repeat(np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32), 6, axis=0)
    points += np.random.default_rng(0).normal(scale=0.1, size=points.shape).astype(np.float32)
    points[0], points[6] = points[0] + [10, 10], points[6] + [-10, 10]
    neighbors, _ = scoring.nearest_neighbors(
        points[:, None], np.ones([24, 1], np.float32), 5, kind=scoring.SQUARED_DISTANCE
    )
    predictions = metrics.knn_predictions(labels[neighbors])
    np.testing.assert_array_equal(np.flatnonzero(predictions != labels), [0, 6])
    assert np.mean(predictions == labels) == 22 / 24


def test_knn_ties_go_to_the_class_of_the_nearer_neighbour():
    votes = np.array([[1, 2, 1, 2, 3], [2, 1, 1, 2, 3], [3, 1, 2, 1, 4]])
    np.testing.assert_array_equal(metrics.knn_predictions(votes), [1, 2, 1])


@pytest.mark.parametrize("count,samples,dim,tile", [(45, 4, 2, 8), (30, 1, 3, 16), (12, 2, 1, 512)])
def test_chunked_all_pairs_top_k_equals_naive_numpy(count, samples, dim, tile):
    rng = np.random.default_rng(count)
    z = rng.normal(size=(count, samples, dim)).astype(np.float32)
    w = rng.dirichlet(np.ones(samples), size=count).astype(np.float32)
    a, b = 1.3, 0.4
    distance = np.linalg.norm(z[:, None, :, None] - z[None, :, None, :].astype(np.float64), axis=-1)
    mismatch = np.einsum("ijkl,ik,jl->ij", expit(a * distance - b), w, w)
    np.fill_diagonal(mismatch, np.inf)
    expected = np.argsort(mismatch, axis=1, kind="stable")[:, :5]
    ids, values = scoring.nearest_neighbors(z, w, 5, a, b, tile=tile)
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(values, np.take_along_axis(mismatch, expected, 1), rtol=1e-5)
    paired = scoring.paired_mismatch(z, w, z[::-1], w[::-1], a, b)
    reference = np.diag(mismatch[:, ::-1])
    finite = np.isfinite(reference)  # Not an image with itself (the middle of an odd count).
    np.testing.assert_allclose(paired[finite], reference[finite], rtol=1e-5)


def test_kendall_tau_is_positive_when_accuracy_falls_with_uncertainty():
    falling = np.linspace(0.9, 0.1, 20)
    assert metrics.flipped_kendall_tau(falling) == pytest.approx(1.0)
    assert metrics.flipped_kendall_tau(falling[::-1]) == pytest.approx(-1.0)
    assert 0 < metrics.flipped_kendall_tau(falling + [0.05, -0.05] * 10) < 1
    assert np.isnan(metrics.flipped_kendall_tau(np.full(20, 0.5)))
    bins = metrics.equal_bins(np.array([5.0, 1.0, 4.0, 2.0, 3.0]), 2)
    np.testing.assert_array_equal(np.concatenate(bins), [1, 3, 4, 2, 0])


def test_verification_pairs_are_half_matching_and_never_self():
    labels = np.repeat(np.arange(7), 5)
    first, second, is_match = data.verification_pairs(labels, 1001, seed=3)
    assert is_match.sum() == 500 and len(is_match) == 1001
    np.testing.assert_array_equal(labels[first] == labels[second], is_match)
    assert np.all(first != second)
    again = data.verification_pairs(labels, 1001, seed=3)
    for x, y in zip((first, second, is_match), again):
        np.testing.assert_array_equal(x, y)


def test_risk_coverage_calibration_and_number_line_on_constructed_data():
    curve = metrics.risk_coverage(np.array([True, True, False, True]), np.arange(4.0))
    np.testing.assert_allclose(curve["risk"], [0, 0, 1 / 3, 1 / 4])
    assert curve["aurc"] == pytest.approx((1 / 3 + 1 / 4) / 4)
    assert curve["e_aurc"] == pytest.approx(curve["aurc"] - 1 / 4 / 4)
    calibrated = metrics.calibration(
        np.r_[np.full(10, 0.25), np.full(10, 0.85)],
        np.r_[np.arange(10) < 2, np.arange(10) < 9],
        num_bins=10,
    )
    assert calibrated["ece"] == pytest.approx((0.05 + 0.05) / 2)
    line = metrics.shared_digit_runs([12, 13, 23, 45, 46], digits=2)
    assert line == {"adjacent_pairs": 4, "sharing_pairs": 3, "mean_run_length": 2.5}


def test_eta_of_a_point_embedding_is_one_minus_sigmoid_b(point_model):
    b = 0.7
    loaded, info = saved_model.load(point_model)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 28, 56, 1), dtype=np.uint8)
    labels = np.repeat(np.arange(6), 2)
    pairs = data.verification_pairs(labels, 20, seed=0)
    results, arrays = evaluator.evaluate_twin(
        saved_model.embed(loaded, images),
        labels,
        np.arange(12),
        pairs,
        info,
        evaluator.Settings(num_samples=1, num_bins=3),
    )
    np.testing.assert_allclose(arrays["eta"], 1 - expit(b), rtol=1e-6)
    assert np.isnan(results["kendall_tau"]["knn"]) and np.isnan(results["kendall_tau"]["ap"])


def test_wrong_digits_and_bad_paths_get_clear_errors(tmp_path, mog2_model, data_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([mog2_model, "--digits", "3", "--data_dir", data_dir])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "embeds 2-digit images" in message and "n_digit_mnist/3digit_number" in message
    for path, expected in [
        (tmp_path / "nowhere", "does not exist"),
        (tmp_path, "not a SavedModel"),
    ]:
        with pytest.raises(SystemExit):
            cli.main([str(path)])
        assert expected in capsys.readouterr().err
    assert not list(pathlib.Path(mog2_model).parent.glob(".evaluation-*"))


def test_cli_end_to_end_writes_everything_and_repeats_exactly(tmp_path, mog2_model, data_dir):
    outputs = [tmp_path / "first", tmp_path / "second"]
    flags = [mog2_model, "--data_dir", data_dir, "--pairs", "300", "--output_dir"]
    cli.main([*flags, str(outputs[0])])  # Every test split of the gap, by default.
    cli.main([*flags, str(outputs[1]), "--split", "test_seen"])
    written = [json.loads((output / "metrics.json").read_text()) for output in outputs]
    assert written[0]["splits"]["test_seen"] == written[1]["splits"]["test_seen"]
    splits = written[0]["splits"]
    assert sorted(splits) == ["test_seen", "test_unseen"]
    for split in splits.values():
        assert split["num_images"] == 60
        for twin in data.TWINS:
            assert 0 <= split[twin]["verification_ap"] <= 1
            assert 0 <= split[twin]["knn_accuracy"] <= 1
            assert len(split[twin]["bins"]["knn_accuracy"]) == 20
    report = (outputs[0] / "report.md").read_text()
    assert "| Verification AP | clean |" in report and "0.990" in report  # The paper's MoG-2.
    for name in ("embeddings", "uncertainty_bins", "reliability", "risk_coverage"):
        for split in splits:
            png = outputs[0] / "figures" / f"{split}_{name}.png"
            assert png.read_bytes()[:4] == b"\x89PNG"
            assert f"figures/{split}_{name}.png" in report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "second"]  # No leftovers.


def test_cli_point_embedding_on_the_number_line(point_model, data_dir):
    cli.main([point_model, "--data_dir", data_dir, "--split", "test_unseen", "--max_images", "40"])
    output = pathlib.Path(point_model).parent / "evaluation"  # The default output folder.
    split = json.loads((output / "metrics.json").read_text())["splits"]["test_unseen"]
    assert split["num_images"] == 40
    assert split["clean"]["kendall_tau"]["knn"] is None  # eta is constant for points.
    assert split["number_line"]["adjacent_pairs"] == split["num_classes"] - 1
    assert (output / "figures" / "test_unseen_number_line.png").exists()
