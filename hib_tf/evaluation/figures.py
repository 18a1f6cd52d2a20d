"""PNG figures of an evaluated split, in the spirit of the paper's figures 3-5 and 11.

Figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot state, no display needed),
coloured by the ones digit of the class as in the paper's figures 10 and 11.
"""

import numpy as np
from matplotlib import cm
from matplotlib import collections
from matplotlib import figure as mpl_figure

from hib_tf.evaluation import data

_TWIN_COLORS = {"clean": "tab:blue", "corrupt": "tab:red"}
_MAX_LABELLED_CLASSES = 100


def _digit_colors(numbers):
    """RGBA [L, 4], the tab10 colour of each number's ones digit."""
    return cm.tab10(np.asarray(numbers) % 10)


def _save(fig, path):
    fig.savefig(path, dpi=120, bbox_inches="tight")


def _limits(values):
    """Axis limits covering the 1st-99th percentile of values, padded by 15%."""
    low, high = np.percentile(values, [1, 99])
    pad = 0.15 * max(high - low, 1e-6)
    return low - pad, high + pad


def embeddings_2d(path, figure_data, labels, max_images=300, seed=0):
    """Figures 3 and 4: 3-sigma ellipses of each component, clean beside corrupt.

    The same seeded subsample of images is drawn in both panels, each component's ellipse
    shaded by its weight; squares mark the class centroids of the clean twin (mean of the
    mixture means), so the corrupt panel shows where corrupt images land relative to them.

    Args:
      path: PNG to write.
      figure_data: from :func:`evaluator.evaluate_split`, with D = 2 embeddings.
      labels: int [M] class ids (the numbers).
      max_images: images drawn per panel.
      seed: seed of the subsample.
    """
    count = len(labels)
    chosen = np.sort(
        np.random.default_rng(seed).choice(count, min(max_images, count), replace=False)
    )
    classes, centroids = figure_data["centroids"]
    all_means = np.concatenate([figure_data[twin]["means"] for twin in data.TWINS])
    fig = mpl_figure.Figure(figsize=(13, 6.2))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for ax, twin in zip(axes, data.TWINS):
        embedding = figure_data[twin]["embedding"]
        means = embedding["means"][chosen]  # [m, C, D]
        stddevs = embedding["stddevs"][chosen]
        weights = embedding["mixture_weights"][chosen]
        colors = np.repeat(_digit_colors(labels[chosen]), means.shape[1], axis=0)
        # Faint faces (hundreds overlap), edges and faces fading with the component's weight.
        relative_weights = np.clip(weights.reshape(-1) * means.shape[1], 0.0, 1.0)
        edge_colors = colors.copy()
        edge_colors[:, 3] = 0.7 * relative_weights
        colors[:, 3] = min(0.25, 15 / len(colors)) * relative_weights
        ax.add_collection(
            collections.EllipseCollection(
                widths=6 * stddevs[..., 0].reshape(-1),
                heights=6 * stddevs[..., 1].reshape(-1),
                angles=np.zeros(colors.shape[0]),
                units="xy",
                offsets=means.reshape(-1, 2),
                offset_transform=ax.transData,
                facecolors=colors,
                edgecolors=edge_colors,
                linewidths=0.4,
            )
        )
        ax.scatter(*means.reshape(-1, 2).T, s=3, c=colors[:, :3])
        ax.scatter(*centroids.T, marker="s", s=22, c=_digit_colors(classes), edgecolors="k")
        if len(classes) <= _MAX_LABELLED_CLASSES:
            for number, (x, y) in zip(classes, centroids):
                ax.annotate(
                    str(number), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points"
                )
        ax.set_title(f"{twin} test images ({len(chosen)} of {count}), 3-sigma ellipses")
        ax.set_aspect("equal")
    axes[0].set_xlim(*_limits(all_means[:, 0]))
    axes[0].set_ylim(*_limits(all_means[:, 1]))
    _save(fig, path)


def uncertainty_bins(path, results):
    """Figure 5: per-bin verification AP and kNN accuracy against the eta bin, both twins.

    Args:
      path: PNG to write.
      results: the split's metrics from :func:`evaluator.evaluate_split`.
    """
    fig = mpl_figure.Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    for ax, (key, name, tau_key) in zip(
        axes, [("ap", "verification AP", "ap"), ("knn_accuracy", "kNN accuracy", "knn")]
    ):
        for twin in data.TWINS:
            values = results[twin]["bins"][key]
            tau = results[twin]["kendall_tau"][tau_key]
            ax.plot(
                np.arange(1, len(values) + 1),
                values,
                "o-",
                color=_TWIN_COLORS[twin],
                label=f"{twin} (tau = {tau:.2f})",
            )
        ax.set_xlabel("uncertainty bin (eta, low to high)")
        ax.set_ylabel(name)
        ax.set_xticks(np.arange(1, len(values) + 1, 2))
        ax.legend()
    _save(fig, path)


def number_line(path, classes, centroids):
    """Figure 11: class centroids of a 1-D embedding along the line, in order.

    Args:
      path: PNG to write.
      classes: int [L] class numbers; centroids: float [L, 1].
    """
    order = np.argsort(centroids[:, 0], kind="stable")
    fig = mpl_figure.Figure(figsize=(max(8, 0.16 * len(classes)), 1.6))
    ax = fig.subplots()
    ax.scatter(np.arange(len(order)), np.zeros(len(order)), c=_digit_colors(classes[order]), s=40)
    for position, number in enumerate(classes[order]):
        ax.annotate(
            str(number),
            (position, 0),
            rotation=90,
            fontsize=7,
            ha="center",
            xytext=(0, 8),
            textcoords="offset points",
        )
    ax.set_yticks([])
    ax.set_xlabel("rank of the class centroid on the line (coloured by ones digit)")
    ax.set_ylim(-0.2, 1.0)
    _save(fig, path)


def reliability(path, figure_data):
    """Reliability diagram of the match probability on the verification pairs, both twins.

    Args:
      path: PNG to write.
      figure_data: from :func:`evaluator.evaluate_split`.
    """
    fig = mpl_figure.Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], "k:", label="perfect calibration")
    for twin in data.TWINS:
        calibration = figure_data[twin]["calibration"]
        filled = calibration["count"] > 0
        ax.plot(
            calibration["confidence"][filled],
            calibration["frequency"][filled],
            "o-",
            color=_TWIN_COLORS[twin],
            label=f"{twin} (ECE = {calibration['ece']:.3f})",
        )
    ax.set_xlabel("match probability p(m | x1, x2)")
    ax.set_ylabel("fraction of matching pairs")
    ax.legend()
    _save(fig, path)


def risk_coverage(path, figure_data):
    """kNN error rate among the most certain images against the fraction kept, both twins.

    Args:
      path: PNG to write.
      figure_data: from :func:`evaluator.evaluate_split`.
    """
    fig = mpl_figure.Figure(figsize=(5, 4))
    ax = fig.subplots()
    for twin in data.TWINS:
        curve = figure_data[twin]["risk_coverage"]
        ax.plot(
            curve["coverage"],
            curve["risk"],
            color=_TWIN_COLORS[twin],
            label=f"{twin} (AURC = {curve['aurc']:.3f})",
        )
    ax.set_xlabel("coverage (most certain images kept)")
    ax.set_ylabel("kNN error rate")
    ax.legend()
    _save(fig, path)


def write_split_figures(folder, split, results, figure_data, labels, dim, seed=0):
    """Writes every figure that applies to a split; returns their file names.

    Args:
      folder: existing output folder.
      split: split name, the file name prefix.
      results, figure_data: from :func:`evaluator.evaluate_split`.
      labels: int [M] class ids.
      dim: D; the ellipse figure needs D = 2, the number line D = 1.
      seed: seed of the ellipse figure's subsample.
    """
    names = []

    def target(name):
        names.append(f"{split}_{name}.png")
        return f"{folder}/{names[-1]}"

    if dim == 2:
        embeddings_2d(target("embeddings"), figure_data, labels, seed=seed)
    if dim == 1:
        number_line(target("number_line"), *figure_data["centroids"])
    uncertainty_bins(target("uncertainty_bins"), results)
    reliability(target("reliability"), figure_data)
    risk_coverage(target("risk_coverage"), figure_data)
    return names
