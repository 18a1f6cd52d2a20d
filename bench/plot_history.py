"""Plots a training run's metrics (history.csv) against the step.

    python bench/plot_history.py RUN_DIR OUTPUT.png

Draws loss, NLL and KL, the match-probability scalars a and b, and the mean embedding
stddev (a collapsing variance shows there first).
"""

import argparse
import csv
import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("output", type=pathlib.Path)
    args = parser.parse_args()
    config = json.loads((args.run_dir / "config.json").read_text())
    with open(args.run_dir / "history.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    steps = [(int(row["epoch"]) + 1) * config["log_every"] for row in rows]
    panels = [("loss", "nll", "kl"), ("a", "b"), ("mean_stddev",)]
    figure, axes = plt.subplots(1, len(panels), figsize=(13, 3.5))
    for axis, names in zip(axes, panels):
        for name in names:
            axis.plot(steps, [float(row[name]) for row in rows], label=name)
        axis.set_xlabel("step")
        axis.legend()
        axis.grid(alpha=0.3)
    axes[0].set_yscale("log")
    figure.suptitle(f"{args.run_dir.name}: metrics per {config['log_every']} steps (train mean)")
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
