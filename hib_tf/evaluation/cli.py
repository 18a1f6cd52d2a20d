"""Command line of evaluate.py (also installed as `hib-evaluate`): SavedModel -> metrics, report.

The output folder is written under a temporary name beside its destination and renamed into
place when complete, so a folder named ``evaluation`` is always a whole evaluation.
"""

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time

from hib_tf.evaluation import data
from hib_tf.evaluation import evaluator
from hib_tf.evaluation import figures
from hib_tf.evaluation import references
from hib_tf.evaluation import report
from hib_tf.evaluation import saved_model
from hib_tf.evaluation.data import EvaluationError

_DEFAULTS = evaluator.Settings(num_samples=0)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None ones, whose help says what they default to."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def parser():
    """The argument parser."""
    p = argparse.ArgumentParser(
        prog="evaluate.py",
        description="Evaluate a SavedModel exported by train.py on the clean and corrupt twins "
        "of the N-digit MNIST test splits: verification AP, leave-one-out kNN accuracy, "
        "the uncertainty eta and its Kendall's tau against per-bin performance (the paper's "
        "tables 1 and 2), plus corrupt-image AUROC, risk-coverage and calibration. Writes "
        "metrics.json, report.md and PNG figures.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("saved_model", help="SavedModel folder written by train.py (run/saved_model).")
    p.add_argument(
        "--digits",
        type=int,
        choices=(2, 3),
        help="Digits per image of the dataset; default: the SavedModel's. Must match it.",
    )
    p.add_argument(
        "--gap",
        choices=("number", "instance"),
        default="number",
        help="Split protocol of the dataset config (n_digit_mnist/<N>digit_<gap>).",
    )
    p.add_argument(
        "--split",
        nargs="+",
        help="Test splits to score; default: all test splits of the gap (number: test_seen "
        "test_unseen; instance: test).",
    )
    p.add_argument("--data_dir", help="TFDS data folder; default: TFDS's (~/tensorflow_datasets).")
    p.add_argument(
        "--manual_dir", help="Folder of MNIST and the index tables, to build the dataset offline."
    )
    p.add_argument(
        "--output_dir",
        help="Folder to write (replaced if it exists); default: <saved_model>/../evaluation.",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=_DEFAULTS.seed,
        help="Seed of the Monte-Carlo samples, the verification pairs and any subsample.",
    )
    p.add_argument(
        "--pairs", type=int, default=_DEFAULTS.num_pairs, help="Verification pairs, half matching."
    )
    p.add_argument(
        "--samples",
        type=int,
        help="Monte-Carlo samples K per image, a multiple of the mixture components; "
        "default: the model's (point embeddings always use 1).",
    )
    p.add_argument(
        "--max_images",
        type=int,
        help="Score a seeded random subsample of this many images per split (quick looks).",
    )
    p.add_argument("--neighbors", type=int, default=_DEFAULTS.neighbors, help="k of the kNN.")
    p.add_argument(
        "--bins", type=int, default=_DEFAULTS.num_bins, help="Equal-size uncertainty bins."
    )
    return p


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _settings(args, info):
    """Checks the flags against the model and fills in Settings."""
    digits = args.digits or info.digits
    if digits != info.digits:
        raise EvaluationError(
            f"The SavedModel {args.saved_model!r} embeds {info.digits}-digit images "
            f"(digits = {info.digits}), but the dataset {data.dataset_name(digits, args.gap)} "
            f"has {digits}-digit images; pass --digits {info.digits}."
        )
    samples = 1 if info.point else (args.samples or info.num_samples)
    if samples <= 0 or samples % info.num_components:
        raise EvaluationError(
            f"--samples must be a positive multiple of the model's {info.num_components} "
            f"mixture components; got {samples}."
        )
    if args.pairs < 2 or args.neighbors < 1 or args.bins < 1:
        raise EvaluationError("--pairs must be >= 2, --neighbors and --bins >= 1.")
    return evaluator.Settings(
        num_samples=samples,
        seed=args.seed,
        num_pairs=args.pairs,
        neighbors=args.neighbors,
        num_bins=args.bins,
    )


def _replace(source, destination):
    """Renames folder ``source`` to ``destination``, replacing any folder there."""
    if os.path.exists(destination):
        old = tempfile.mkdtemp(prefix=".evaluation-old-", dir=os.path.dirname(destination))
        os.rename(destination, os.path.join(old, "evaluation"))
        os.rename(source, destination)
        shutil.rmtree(old)
    else:
        os.rename(source, destination)


def _write_outputs(folder, args, loaded, info, settings, splits):
    """Scores every split and writes metrics.json, report.md and figures/ into folder."""
    started = time.perf_counter()
    os.mkdir(os.path.join(folder, "figures"))
    split_results, split_figures = {}, {}
    for split in splits:
        _log(f"{data.dataset_name(info.digits, args.gap)} {split}: loading")
        twins = data.load_twins(
            info.digits,
            args.gap,
            split,
            data_dir=args.data_dir,
            manual_dir=args.manual_dir,
            max_images=args.max_images,
            seed=args.seed,
        )
        if len(twins.labels) <= settings.neighbors:
            raise EvaluationError(
                f"Split {split} has {len(twins.labels)} images; {settings.neighbors}-NN needs more."
            )
        split_results[split], figure_data = evaluator.evaluate_split(
            loaded, info, twins, settings, log=_log
        )
        _log("  drawing figures")
        split_figures[split] = figures.write_split_figures(
            os.path.join(folder, "figures"),
            split,
            split_results[split],
            figure_data,
            twins.labels,
            info.dim,
            seed=args.seed,
        )
    model = {"kind": info.kind, **dataclasses.asdict(info)}
    metrics = {
        "config": {
            "saved_model": args.saved_model,
            "digits": info.digits,
            "gap": args.gap,
            "splits": list(splits),
            "seed": settings.seed,
            "pairs": settings.num_pairs,
            "samples": settings.num_samples,
            "max_images": args.max_images,
            "neighbors": settings.neighbors,
            "bins": settings.num_bins,
        },
        "model": model,
        "dataset": data.dataset_name(info.digits, args.gap),
        "paper": references.paper_numbers(info.digits, info.dim, info.kind),
        "splits": split_results,
        "elapsed_s": time.perf_counter() - started,
    }
    report.write_json(os.path.join(folder, "metrics.json"), metrics)
    with open(os.path.join(folder, "report.md"), "w", encoding="utf-8") as file:
        file.write(report.markdown(report.json_ready(metrics), split_figures))


def evaluate(args):
    """Runs the evaluation of parsed flags; returns the output folder.

    Raises:
      EvaluationError: for a missing or foreign SavedModel, a digits mismatch, a bad flag.
    """
    loaded, info = saved_model.load(args.saved_model)
    settings = _settings(args, info)
    splits = args.split or data.test_splits(args.gap)
    output_dir = os.path.abspath(
        args.output_dir
        or os.path.join(os.path.dirname(os.path.abspath(args.saved_model)), "evaluation")
    )
    os.makedirs(os.path.dirname(output_dir), exist_ok=True)
    folder = tempfile.mkdtemp(prefix=".evaluation-", dir=os.path.dirname(output_dir))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)  # mkdtemp's 0700 would outlive the rename.
    _log(f"Evaluating {args.saved_model} ({info.kind}, D = {info.dim}, K = {settings.num_samples})")
    try:
        _write_outputs(folder, args, loaded, info, settings, splits)
        _replace(folder, output_dir)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return output_dir


def main(argv=None):
    """Entry point of evaluate.py and `hib-evaluate`."""
    p = parser()
    args = p.parse_args(argv)
    try:
        output_dir = evaluate(args)
    except EvaluationError as error:
        p.exit(2, f"{p.prog}: error: {error}\n")
    print(f"Wrote metrics.json, report.md and figures/ to {output_dir}")
