"""Scores one test split of an exported model: both twins, every metric, and what figures need.

Per twin (``clean``, ``corrupt``), with K samples per image drawn by :mod:`scoring`:
verification AP on seeded pairs, leave-one-out kNN accuracy by match probability and by mixture
mean, eta per image, per-bin performance with Kendall's tau (paper section 4.4), risk-coverage
and calibration. Per split: AUROC of eta for corrupt vs clean, class centroids and, for D = 1,
the appendix D count of adjacent classes sharing a digit.
"""

import dataclasses
import time

import numpy as np

from hib_tf.evaluation import data
from hib_tf.evaluation import metrics
from hib_tf.evaluation import saved_model
from hib_tf.evaluation import scoring

_SAMPLE_SET, _SECOND_SAMPLE_SET = 0, 1


@dataclasses.dataclass(frozen=True)
class Settings:
    """How a split is scored.

    Attributes:
      num_samples: K samples per image (1 for point embeddings).
      seed: seed of the samples, the pairs and any subsample.
      num_pairs: verification pairs, half matching.
      neighbors: k of the kNN identification (paper: 5).
      num_bins: equal-size uncertainty bins (paper: 20).
      calibration_bins: equal-width bins of the reliability diagram.
    """

    num_samples: int
    seed: int = 0
    num_pairs: int = 10_000
    neighbors: int = 5
    num_bins: int = 20
    calibration_bins: int = 15


def _per_bin(bins, values_of):
    return [float(values_of(indices)) for indices in bins]


def evaluate_twin(embedding, labels, ids, pairs, info, settings, progress=None):
    """Every metric of one twin of a split.

    Args:
      embedding: dict from :func:`saved_model.embed` for the M images.
      labels: int64 [M]; ids: int64 [M], positions in the split (keys of the noise).
      pairs: ``(first, second, is_match)`` from :func:`data.verification_pairs`.
      info: the model's ModelInfo; settings: Settings.
      progress: optional ``progress(done, total)`` of the all-pairs scan.

    Returns:
      ``(results, arrays)``: the JSON-ready metrics, and numpy arrays for figures (``eta`` [M],
      ``means`` [M, D], ``risk_coverage``, ``calibration``).
    """
    a, b, k = info.a, info.b, settings.neighbors
    samples, weights = scoring.draw_samples(
        embedding, settings.num_samples, settings.seed, _SAMPLE_SET, ids
    )
    second, second_weights = scoring.draw_samples(
        embedding, settings.num_samples, settings.seed, _SECOND_SAMPLE_SET, ids
    )
    eta = scoring.paired_mismatch(samples, weights, second, second_weights, a, b)
    neighbors, _ = scoring.nearest_neighbors(samples, weights, k, a, b, progress=progress)
    correct = metrics.knn_predictions(labels[neighbors]) == labels
    means = saved_model.mixture_means(embedding)
    mean_neighbors, _ = scoring.nearest_neighbors(
        means[:, None], np.ones([len(means), 1], np.float32), k, kind=scoring.SQUARED_DISTANCE
    )
    mean_correct = metrics.knn_predictions(labels[mean_neighbors]) == labels

    first, other, is_match = pairs
    mismatch = scoring.paired_mismatch(
        samples[first], weights[first], samples[other], weights[other], a, b
    )
    match_probability = 1.0 - mismatch.astype(np.float64)
    image_bins = metrics.equal_bins(eta, settings.num_bins)
    pair_eta = (eta[first] + eta[other]) / 2
    pair_bins = metrics.equal_bins(pair_eta, settings.num_bins)
    bin_accuracy = _per_bin(image_bins, lambda i: correct[i].mean())
    bin_ap = _per_bin(pair_bins, lambda i: metrics.average_precision(is_match[i], -mismatch[i]))
    # Point embeddings have a constant eta (up to float rounding): their bins would be ordered
    # by image index, so they get no tau.
    informative = not info.point
    risk = metrics.risk_coverage(correct, eta)
    calibration = metrics.calibration(match_probability, is_match, settings.calibration_bins)
    results = {
        "verification_ap": metrics.average_precision(is_match, -mismatch),
        "knn_accuracy": float(correct.mean()),
        "knn_accuracy_mean_embedding": float(mean_correct.mean()),
        "uncertainty": {
            "mean": float(eta.mean()),
            "std": float(eta.std()),
            "min": float(eta.min()),
            "max": float(eta.max()),
        },
        "kendall_tau": {
            "ap": metrics.flipped_kendall_tau(bin_ap) if informative else float("nan"),
            "knn": metrics.flipped_kendall_tau(bin_accuracy) if informative else float("nan"),
        },
        "bins": {
            "eta_mean": _per_bin(image_bins, lambda i: eta[i].mean()),
            "knn_accuracy": bin_accuracy,
            "pair_eta_mean": _per_bin(pair_bins, lambda i: pair_eta[i].mean()),
            "ap": bin_ap,
        },
        "risk_coverage": {
            "aurc": risk["aurc"],
            "e_aurc": risk["e_aurc"],
            "risk_at_full_coverage": float(risk["risk"][-1]),
        },
        "calibration": {
            "ece": calibration["ece"],
            "num_bins": settings.calibration_bins,
            "confidence": calibration["confidence"].tolist(),
            "frequency": calibration["frequency"].tolist(),
            "count": calibration["count"].tolist(),
        },
    }
    arrays = {"eta": eta, "means": means, "risk_coverage": risk, "calibration": calibration}
    return results, arrays


def class_centroids(means, labels):
    """(classes int64 [L], centroids float [L, D]): mean embedding of each class's images."""
    classes, inverse = np.unique(labels, return_inverse=True)
    sums = np.zeros([len(classes), means.shape[1]])
    np.add.at(sums, inverse, means)
    return classes, sums / np.bincount(inverse)[:, None]


def evaluate_split(loaded, info, twins, settings, log=print):
    """Embeds and scores both twins of a split.

    Args:
      loaded: the SavedModel; info: its ModelInfo.
      twins: data.SplitTwins.
      settings: Settings.
      log: callable taking a progress line.

    Returns:
      ``(results, figure_data)``: the JSON-ready metrics of the split, and per twin the
      embedding and arrays that :mod:`figures` draws, plus the clean class centroids.
    """
    pairs = data.verification_pairs(twins.labels, settings.num_pairs, settings.seed)
    results = {
        "num_images": int(len(twins.labels)),
        "num_classes": int(len(np.unique(twins.labels))),
    }
    figure_data = {}
    for twin in data.TWINS:
        started = time.perf_counter()
        log(f"  {twin}: embedding {len(twins.labels)} images")
        embedding = saved_model.embed(loaded, twins.images[twin])

        def progress(done, total, twin=twin):
            if done == total or done % max(1, total // 10) == 0:
                log(f"  {twin}: all-pairs match probabilities, block {done}/{total}")

        results[twin], arrays = evaluate_twin(
            embedding, twins.labels, twins.ids, pairs, info, settings, progress
        )
        log(f"  {twin}: done in {time.perf_counter() - started:.1f} s")
        figure_data[twin] = {"embedding": embedding, **arrays}
    results["corrupt_detection_auroc"] = metrics.detection_auroc(
        figure_data["clean"]["eta"], figure_data["corrupt"]["eta"]
    )
    classes, centroids = class_centroids(figure_data["clean"]["means"], twins.labels)
    figure_data["centroids"] = (classes, centroids)
    if info.dim == 1:
        ordered = classes[np.argsort(centroids[:, 0], kind="stable")]
        results["number_line"] = {
            "order": ordered.tolist(),
            **metrics.shared_digit_runs(ordered, info.digits),
        }
    return results, figure_data
