"""The best kNN accuracy and AP any model could reach on the corrupt twin, hiding what it hides.

The corrupt twin occludes every digit with a square of side L ~ Uniform{0..28} (SPEC.md section 2).
MNIST centres each digit's ink in the middle 20 x 20 pixels, so a square of side 20 or more often
hides a digit whole, and then no embedding can tell which digit it was. This script measures, from
the built dataset alone (no model), the share of digits whose ink the occlusion leaves below a
threshold, and an upper bound on any classifier's accuracy on the corrupt twin: an image with no
hidden digit counts as read correctly; one with hidden digits counts as the best possible guess,
the most frequent class of the split among those that agree with its visible digits (the split's
own label counts: a generous oracle). Verification likewise: on the evaluator's own seeded pairs,
the AP of the best possible ranking, by the likelihood ratio of "same class" given what each image
shows. Both bounds are set beside the paper's corrupt numbers (table 1), which no model can beat
where they exceed them.

    python bench/corrupt_ceiling.py --data_dir /tmp/tfds/bench
"""

import argparse
import itertools

import numpy as np

from hib_tf.data.recipe import number_digits
from hib_tf.evaluation import data
from hib_tf.evaluation import metrics
from hib_tf.evaluation.evaluator import Settings
from hib_tf.evaluation.references import paper_numbers

THRESHOLDS = (0.01, 0.05, 0.10)


def ink_left(twins, digits):
    """float [M, N]: the share of each digit's ink (summed intensity) left in the corrupt twin."""

    def per_digit(images):
        pixels = images[..., 0].astype(np.float64).reshape(len(images), 28, digits, 28)
        return pixels.sum(axis=(1, 3))

    return per_digit(twins.images["corrupt"]) / per_digit(twins.images["clean"])


def candidate_classes(labels, digits, hidden):
    """What each image shows: the classes that agree with its visible digits.

    Args:
      labels: int [M], the numbers; digits: N; hidden: bool [M, N].

    Returns:
      ``(counts, candidates)``: int [K], the images of each class of the split; bool [M, K],
      the classes each image could be (its own alone when no digit is hidden).
    """
    classes, counts = np.unique(labels, return_counts=True)
    class_places = number_digits(classes, digits)
    places = number_digits(labels, digits)
    patterns = {}  # (visible positions, their digits) -> candidates
    candidates = np.empty((len(labels), len(classes)), bool)
    for image, visible in enumerate(~hidden):
        key = (visible.tobytes(), places[image, visible].tobytes())
        if key not in patterns:
            patterns[key] = np.all(class_places[:, visible] == places[image, visible], axis=1)
        candidates[image] = patterns[key]
    return counts, candidates


def accuracy_ceiling(counts, candidates):
    """Upper bound on the accuracy of any classifier that cannot see the hidden digits.

    The best guess for an image is its most frequent candidate class, right as often as that
    class's share of the candidates' images (1 when no digit is hidden).
    """
    images = candidates * counts
    return float(np.mean(images.max(axis=1) / images.sum(axis=1)))


def verification_ceiling(counts, candidates, pairs):
    """Upper bound on the AP of any pair scorer that cannot see the hidden digits.

    Matching pairs draw their class in proportion to its images ``n_c``, non-matching pairs
    draw two images of different classes, so the likelihood ratio of "match" against "no match"
    is, up to a constant, ``x = S_1 / (N_1 N_2 - S_2)``, with ``S_p = sum_c n_c^p`` over the
    candidates the two images share and ``N_i`` the images of image i's candidates. Ranking by
    it (here by ``x / (1 + x)``, the same order without an infinity) gives the best expected AP
    (Neyman-Pearson).

    Args:
      counts, candidates: from :func:`candidate_classes`; pairs: ``(first, second, is_match)``.
    """
    first, second, is_match = pairs
    one, other = candidates[first], candidates[second]
    shared = np.where(one & other, counts, 0).astype(np.float64)
    both = (one * counts).sum(axis=1).astype(np.float64) * (other * counts).sum(axis=1)
    rest = both - np.sum(shared**2, axis=1)
    return metrics.average_precision(is_match, shared.sum(axis=1) / (shared.sum(axis=1) + rest))


def _paper_above(digits, metric, ceiling):
    """The paper's corrupt-twin values of a metric at N digits that exceed a ceiling."""
    above = [
        f"D={dim} {kind} {value:.3f}"
        for dim in (2, 3)
        for kind in ("point", "MoG-1", "MoG-2")
        if (value := paper_numbers(digits, dim, kind)[metric][1]) > ceiling
    ]
    return ", ".join(above) or "none"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=None, help="TFDS data folder with the built datasets.")
    p.add_argument("--manual_dir", default=None, help="Local source files, to build offline.")
    args = p.parse_args()
    print("A digit counts as hidden when less than t of its ink is left.")
    print(
        "| split | N | t | hidden digits | images with a hidden digit | kNN ceiling | paper's "
        "corrupt kNN above it | AP ceiling | paper's corrupt AP above it |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    # The evaluator's defaults, so these are the pairs evaluate.py scores (samples do not matter).
    settings = Settings(num_samples=1)
    for split, digits in itertools.product(("test_seen", "test_unseen"), (2, 3)):
        twins = data.load_twins(digits, "number", split, args.data_dir, args.manual_dir)
        pairs = data.verification_pairs(twins.labels, settings.num_pairs, settings.seed)
        left = ink_left(twins, digits)
        for threshold in THRESHOLDS:
            hidden = left < threshold
            counts, candidates = candidate_classes(twins.labels, digits, hidden)
            knn = accuracy_ceiling(counts, candidates)
            ap = verification_ceiling(counts, candidates, pairs)
            print(
                f"| {split} | {digits} | {threshold:.2f} | {hidden.mean():.3f} | "
                f"{hidden.any(axis=1).mean():.3f} | {knn:.3f} | "
                f"{_paper_above(digits, 'knn_accuracy', knn)} | {ap:.3f} | "
                f"{_paper_above(digits, 'verification_ap', ap)} |"
            )


if __name__ == "__main__":
    main()
