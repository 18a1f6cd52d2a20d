"""Time of a whole evaluation (evaluate.py on one test split, both twins, every metric) of a
MoG-2 model, beside scikit-learn's leave-one-out 5-NN on the mean embeddings of the same images.

Weights do not matter for speed, so the model is an untrained MoG-2 (D = 2, K = 8, the default
filters) exported to a temporary folder. The data is the real 2digit_number test_seen split
(9,940 images), already built in --data_dir. Prints a Markdown table. The kNN accuracies differ from scikit-learn's only by the vote's tie
rule (ours: the class of the nearer neighbour; scikit-learn's: the smallest label); the table
also gives how often the neighbour sets agree.

    python bench/evaluation_speed.py --data_dir /tmp/tfds/bench
"""

import argparse
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from sklearn.neighbors import KNeighborsClassifier

from hib_tf.evaluation import cli
from hib_tf.evaluation import data
from hib_tf.evaluation import metrics
from hib_tf.evaluation import saved_model
from hib_tf.evaluation import scoring
from hib_tf.export import export_saved_model
from hib_tf.model import HIBModel


def _timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default="/tmp/tfds/bench")
    p.add_argument("--split", default="test_seen")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        keras.utils.set_random_seed(0)
        model = HIBModel(dim=2, num_components=2, num_samples=8)
        model(tf.zeros([1, 28, 56, 1]))
        export_saved_model(model, os.path.join(folder, "saved_model"), digits=2)
        flags = [os.path.join(folder, "saved_model"), "--split", args.split]
        flags += ["--data_dir", args.data_dir, "--output_dir", os.path.join(folder, "out")]
        evaluation_s, _ = _timed(lambda: cli.evaluate(cli.parser().parse_args(flags)))

        loaded, _ = saved_model.load(os.path.join(folder, "saved_model"))
        twins = data.load_twins(2, "number", args.split, data_dir=args.data_dir)
        rows = []
        for twin in data.TWINS:
            means = saved_model.mixture_means(saved_model.embed(loaded, twins.images[twin]))
            ours_s, (neighbors, _) = _timed(
                lambda: scoring.nearest_neighbors(
                    means[:, None],
                    np.ones([len(means), 1], np.float32),
                    5,
                    kind=scoring.SQUARED_DISTANCE,
                )
            )
            ours = np.mean(metrics.knn_predictions(twins.labels[neighbors]) == twins.labels)
            classifier = KNeighborsClassifier(n_neighbors=5)
            sklearn_s, predicted = _timed(lambda: classifier.fit(means, twins.labels).predict(None))
            reference = classifier.kneighbors(None, 5, return_distance=False)
            same = np.mean(np.all(np.sort(neighbors, 1) == np.sort(reference, 1), axis=1))
            rows.append((twin, ours_s, ours, sklearn_s, np.mean(predicted == twins.labels), same))
    sklearn_total = sum(row[3] for row in rows)
    print(
        f"{len(twins.labels)} images of {args.split}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print("| what | seconds | kNN accuracy |")
    print("|---|---|---|")
    print(
        f"| evaluate.py, whole (2 twins, all metrics, figures; cold, incl. XLA compile and "
        f"data loading) | {evaluation_s:.1f} | |"
    )
    for twin, ours_s, ours, sklearn_s, accuracy, same in rows:
        print(f"| hib_tf 5-NN on mean embeddings, {twin} | {ours_s:.2f} | {ours:.4f} |")
        print(
            f"| scikit-learn KNeighborsClassifier(5) LOO on means, {twin} | {sklearn_s:.2f} "
            f"| {accuracy:.4f} |"
        )
        print(f"| same 5 neighbours as scikit-learn, {twin} | | {same:.2%} of images |")
    print(
        f"| ratio: whole evaluation / scikit-learn kNN on means (both twins) | "
        f"{evaluation_s / sklearn_total:.1f}x | |"
    )


if __name__ == "__main__":
    main()
