"""Evaluation metrics on NumPy arrays: the paper's (section 4.3, 4.4) and a few beyond it.

Pure functions of scores, labels and uncertainties; nothing here knows about models.
"""

import numpy as np
from scipy import stats
from sklearn import metrics as sk_metrics


def average_precision(is_match, scores):
    """Area under the step-wise precision-recall curve, as scikit-learn defines it.

    Tied scores form one threshold (no credit for a lucky order). Computed here rather than by
    scikit-learn because it runs once per uncertainty bin and needs no input validation.

    Args:
      is_match: bool [P], the ground truth.
      scores: float [P], higher means more likely a match.

    Returns:
      float in [0, 1]; NaN when there is no positive.
    """
    is_match = np.asarray(is_match, bool)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    sorted_scores = np.asarray(scores, np.float64)[order]
    true_positives = np.cumsum(is_match[order])
    if len(order) == 0 or true_positives[-1] == 0:
        return float("nan")
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(order) - 1]
    true_positives = true_positives[last_of_tie]
    precision = true_positives / (last_of_tie + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def knn_predictions(neighbor_labels):
    """Majority vote of each row's neighbours.

    A tie between classes goes to the tied class whose best neighbour ranks first (for 5-NN:
    2-2-1 splits), which uses the ranking rather than an arbitrary class order.

    Args:
      neighbor_labels: int [M, k], the labels of each image's neighbours, nearest first.

    Returns:
      int [M], the predicted labels.
    """
    neighbor_labels = np.asarray(neighbor_labels)
    votes = np.sum(neighbor_labels[:, :, None] == neighbor_labels[:, None, :], axis=-1)
    winner = np.argmax(votes, axis=-1)  # The first (nearest) position with the most votes.
    return np.take_along_axis(neighbor_labels, winner[:, None], -1)[:, 0]


def equal_bins(uncertainty, num_bins):
    """Indices of ``num_bins`` equal-size bins, from the least to the most uncertain.

    Bins sizes differ by at most one (``np.array_split``); equal uncertainties keep their input
    order (stable sort), so the bins are deterministic.

    Args:
      uncertainty: float [M].
      num_bins: int <= M.

    Returns:
      list of ``num_bins`` int arrays of indices.
    """
    return np.array_split(np.argsort(uncertainty, kind="stable"), num_bins)


def flipped_kendall_tau(per_bin_performance):
    """Kendall's tau between bin index and performance, negated (paper table 2).

    Bins run from the least to the most uncertain, so a positive value means performance falls
    as uncertainty rises, which is what a useful uncertainty does.

    Args:
      per_bin_performance: float [bins]; NaN bins (e.g. no positive pair) are left out.

    Returns:
      float in [-1, 1], or NaN when it is undefined (constant performance, < 2 bins).
    """
    performance = np.asarray(per_bin_performance, np.float64)
    keep = np.isfinite(performance)
    if keep.sum() < 2 or np.ptp(performance[keep]) == 0:
        return float("nan")
    tau = stats.kendalltau(np.arange(len(performance))[keep], performance[keep]).statistic
    return float(-tau)


def detection_auroc(clean_uncertainty, corrupt_uncertainty):
    """AUROC of the uncertainty as a detector of corrupt images (corrupt = positive).

    Args:
      clean_uncertainty: float [M1]; corrupt_uncertainty: float [M2].

    Returns:
      float in [0, 1]; 0.5 for a constant uncertainty (point embeddings).
    """
    labels = np.r_[np.zeros(len(clean_uncertainty)), np.ones(len(corrupt_uncertainty))]
    return float(sk_metrics.roc_auc_score(labels, np.r_[clean_uncertainty, corrupt_uncertainty]))


def risk_coverage(correct, uncertainty):
    """Risk-coverage curve of selective classification, rejecting the most uncertain first.

    Args:
      correct: bool [M], whether each prediction is right.
      uncertainty: float [M]; ties keep their input order.

    Returns:
      dict: ``coverage`` and ``risk`` float [M] (error rate of the ``i + 1`` most certain
      images), ``aurc`` (mean risk over all coverages) and ``e_aurc`` (aurc minus that of an
      oracle which rejects every error first).
    """
    errors = ~np.asarray(correct, bool)[np.argsort(uncertainty, kind="stable")]
    kept = np.arange(1, len(errors) + 1)
    risk = np.cumsum(errors) / kept
    oracle = np.cumsum(np.sort(errors)) / kept
    return {
        "coverage": kept / len(errors),
        "risk": risk,
        "aurc": float(risk.mean()),
        "e_aurc": float(risk.mean() - oracle.mean()),
    }


def calibration(probabilities, outcomes, num_bins=15):
    """Reliability of probabilities in equal-width bins, and the expected calibration error.

    Args:
      probabilities: float [P] in [0, 1], predicted chances of the event.
      outcomes: bool [P], whether it happened.
      num_bins: bins of width 1 / num_bins over [0, 1].

    Returns:
      dict: ``ece`` (count-weighted mean |frequency - confidence|), and per bin ``count``,
      ``confidence`` (mean probability) and ``frequency`` (event rate), NaN for empty bins.
    """
    probabilities = np.asarray(probabilities, np.float64)
    outcomes = np.asarray(outcomes, np.float64)
    bins = np.clip((probabilities * num_bins).astype(int), 0, num_bins - 1)
    count = np.bincount(bins, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(bins, probabilities, num_bins) / count
        frequency = np.bincount(bins, outcomes, num_bins) / count
    filled = count > 0
    ece = np.sum(count[filled] * np.abs(frequency[filled] - confidence[filled])) / count.sum()
    return {"ece": float(ece), "count": count, "confidence": confidence, "frequency": frequency}


def shared_digit_runs(ordered_numbers, digits):
    """Appendix D: how often neighbours on a 1-D embedding share a digit in the same position.

    Args:
      ordered_numbers: int [L], class numbers in the order of their centroids on the line.
      digits: N, digits per number.

    Returns:
      dict: ``adjacent_pairs`` (L - 1), ``sharing_pairs`` (adjacent pairs sharing a digit in
      some position; the paper's 76-80 of 99 for HIB, 42-74 for points) and ``mean_run_length``
      (classes per maximal run of consecutive sharing pairs, over runs of >= 2 classes; the
      paper's 4.6 vs 3.0; NaN if there is none).
    """
    numbers = np.asarray(ordered_numbers, np.int64)
    places = (numbers[:, None] // 10 ** np.arange(digits)) % 10
    shares = np.any(places[1:] == places[:-1], axis=-1)
    edges = np.flatnonzero(np.diff(np.r_[0, shares.astype(int), 0]))
    runs = edges[1::2] - edges[::2] + 1  # Classes per run: sharing pairs + 1.
    return {
        "adjacent_pairs": int(len(shares)),
        "sharing_pairs": int(shares.sum()),
        "mean_run_length": float(runs.mean()) if len(runs) else float("nan"),
    }
