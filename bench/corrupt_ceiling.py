"""The best kNN accuracy any model could reach on the corrupt twin: how many digits it hides.

The corrupt twin occludes every digit with a square of side L ~ Uniform{0..28} (SPEC.md section 2).
MNIST centres each digit's ink in the middle 20 x 20 pixels, so a square of side 20 or more
often hides a digit whole, and then no embedding can tell which digit it was. This script
measures, from the built dataset alone (no model), the share of digits whose ink the occlusion
leaves below a threshold, and an upper bound on any classifier's accuracy on the corrupt twin:
an image with no hidden digit counts as read correctly; one with hidden digits counts as the
best possible guess, the most frequent class of the split among those that agree with its
visible digits (the split's own label counts: a generous oracle). The bound is then set beside
the paper's corrupt kNN accuracies (table 1), which no model can beat if they exceed it.

    python bench/corrupt_ceiling.py --data_dir /tmp/tfds/bench
"""

import argparse
import collections
import itertools

import numpy as np

from hib_tf.data.recipe import number_digits
from hib_tf.evaluation import data
from hib_tf.evaluation.references import paper_numbers

THRESHOLDS = (0.01, 0.05, 0.10)


def ink_left(twins, digits):
    """float [M, N]: the share of each digit's ink (summed intensity) left in the corrupt twin."""

    def per_digit(images):
        pixels = images[..., 0].astype(np.float64).reshape(len(images), 28, digits, 28)
        return pixels.sum(axis=(1, 3))

    return per_digit(twins.images["corrupt"]) / per_digit(twins.images["clean"])


def accuracy_ceiling(labels, digits, hidden):
    """Upper bound on the accuracy of any classifier that cannot see the hidden digits.

    Args:
      labels: int [M], the numbers; digits: N; hidden: bool [M, N].
    """
    places = number_digits(labels, digits)
    best_guess = {}  # visible-digit pattern -> accuracy of the best guess among its images
    total = 0.0
    for image in np.flatnonzero(hidden.any(axis=1)):
        visible = ~hidden[image]
        key = (tuple(visible), tuple(places[image, visible]))
        if key not in best_guess:
            agree = np.all(places[:, visible] == places[image, visible], axis=1)
            counts = collections.Counter(labels[agree].tolist())
            best_guess[key] = max(counts.values()) / agree.sum()
        total += best_guess[key]
    return (total + np.sum(~hidden.any(axis=1))) / len(labels)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=None, help="TFDS data folder with the built datasets.")
    p.add_argument("--manual_dir", default=None, help="Local source files, to build offline.")
    args = p.parse_args()
    print("A digit counts as hidden when less than t of its ink is left.")
    print(
        "| split | N | t | hidden digits | images with a hidden digit | accuracy ceiling | "
        "paper's corrupt kNN above it |"
    )
    print("|---|---|---|---|---|---|---|")
    for split, digits in itertools.product(("test_seen", "test_unseen"), (2, 3)):
        twins = data.load_twins(digits, "number", split, args.data_dir, args.manual_dir)
        left = ink_left(twins, digits)
        papers = {
            f"D={dim} {kind}": paper_numbers(digits, dim, kind)["knn_accuracy"][1]
            for dim in (2, 3)
            for kind in ("point", "MoG-1", "MoG-2")
        }
        for threshold in THRESHOLDS:
            hidden = left < threshold
            ceiling = accuracy_ceiling(twins.labels, digits, hidden)
            above = [f"{name} {value:.3f}" for name, value in papers.items() if value > ceiling]
            print(
                f"| {split} | {digits} | {threshold:.2f} | {hidden.mean():.3f} | "
                f"{hidden.any(axis=1).mean():.3f} | {ceiling:.3f} | {', '.join(above) or 'none'} |"
            )


if __name__ == "__main__":
    main()
