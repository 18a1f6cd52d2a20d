"""Training-step time of point, MoG-1 and MoG-2 embeddings, graph vs XLA, float32 vs bfloat16.

Every variant trains on the same random batch of 2-digit images; the timed steps are
interleaved (one step of each variant per round, the order rotating each round) so that load
from other processes hits all variants alike. Before timing, each variant's evaluation loss is
computed with the weights of the float32 graph model of its kind, to show that the faster
variants still compute the same loss. Prints a Markdown table.

    python bench/train_step_speed.py --steps 20
"""

import argparse
import platform
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from hib_tf.model import HIBModel

KINDS = {
    "point": dict(point=True),
    "MoG-1": dict(num_components=1),
    "MoG-2": dict(num_components=2),
}
EXECUTIONS = {"graph": False, "XLA": True}
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def _variants(dim, num_samples, filters):
    """Builds and compiles every (kind, execution, precision) model; float32 graph first."""
    variants = {}
    for kind, options in KINDS.items():
        for execution, jit_compile in EXECUTIONS.items():
            for precision, policy in PRECISIONS.items():
                model = HIBModel(
                    dim=dim,
                    num_samples=num_samples,
                    filters1=filters[0],
                    filters2=filters[1],
                    dtype=policy,
                    **options,
                )
                model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit_compile)
                variants[kind, execution, precision] = model
    return variants


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--digits", type=int, default=2)
    parser.add_argument("--dim", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8, help="K, samples per image")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    parser.add_argument(
        "--filters", type=int, nargs=2, default=[16, 32], help="filters of the two convolutions"
    )
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    images = rng.uniform(size=(args.batch, 28, 28 * args.digits, 1)).astype(np.float32)
    labels = rng.integers(0, 10, size=args.batch)
    variants = _variants(args.dim, args.samples, args.filters)

    losses = {}
    for (kind, execution, precision), model in variants.items():
        model(images[:1])
        model.set_weights(variants[kind, "graph", "float32"].get_weights())
        losses[kind, execution, precision] = model.test_on_batch(images, labels, return_dict=True)[
            "loss"
        ]
    for model in variants.values():
        for _ in range(args.warmup):
            model.train_on_batch(images, labels)

    names = list(variants)
    times = {name: [] for name in names}
    for step in range(args.steps):
        shift = step % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            variants[name].train_on_batch(images, labels)
            times[name].append(time.perf_counter() - start)

    print(
        f"Batch {args.batch}, {args.digits}-digit images, D = {args.dim}, K = {args.samples}; "
        f"TF {tf.__version__}, Keras {keras.__version__}, {platform.processor() or 'CPU'}, "
        f"{args.steps} interleaved timed steps per variant after {args.warmup} untimed.\n"
    )
    print(
        "| model | execution | precision | ms/step (median) | vs point | "
        "vs graph float32 | eval loss - graph float32 loss |"
    )
    print("|---|---|---|---|---|---|---|")
    median = {name: 1e3 * statistics.median(values) for name, values in times.items()}
    for kind, execution, precision in names:
        ms = median[kind, execution, precision]
        print(
            f"| {kind} | {execution} | {precision} | {ms:.1f} | "
            f"{ms / median['point', execution, precision]:.2f} | "
            f"{ms / median[kind, 'graph', 'float32']:.2f} | "
            f"{losses[kind, execution, precision] - losses[kind, 'graph', 'float32']:+.1e} |"
        )


if __name__ == "__main__":
    main()
