"""Command line of train.py (also installed as `hib-train`): flags -> TrainConfig -> train."""

import argparse
import sys

from hib_tf import losses
from hib_tf.data import sources
from hib_tf.training import loop
from hib_tf.training.strategy import STRATEGIES
from hib_tf.training.config import LR_SCHEDULES, OPTIMIZERS, TrainConfig

_DEFAULTS = TrainConfig()


def parser():
    """The argument parser; each flag fills the TrainConfig field of the same name."""
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train a Hedged Instance Embedding (or its point-embedding baseline) on "
        "N-digit MNIST and export a SavedModel that serves with plain TensorFlow. "
        "Rerunning the same command resumes an interrupted run from its last "
        "checkpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--digits",
        type=int,
        choices=(2, 3),
        default=_DEFAULTS.digits,
        help="Digits per image: the official 2- or 3-digit standard dataset.",
    )
    data.add_argument(
        "--gap",
        choices=("number", "instance"),
        default=_DEFAULTS.gap,
        help="Split protocol: 'number' (the paper's: test classes unseen in "
        "training available as test_unseen) or 'instance'.",
    )
    data.add_argument(
        "--occlusion_probability",
        type=float,
        default=_DEFAULTS.occlusion_probability,
        help="Chance that each digit of a training image is occluded, drawn "
        "afresh each time the image is used.",
    )
    data.add_argument(
        "--data_dir",
        default=None,
        help="TFDS data folder (default: TFDS's, ~/tensorflow_datasets).",
    )
    data.add_argument(
        "--manual_dir",
        default=None,
        help="Folder with MNIST and the official index tables, for building the "
        f"dataset offline (or set {sources.SOURCE_DIR_ENV}).",
    )
    model = p.add_argument_group("model")
    model.add_argument("--dim", type=int, default=_DEFAULTS.dim, help="Embedding dimension D.")
    model.add_argument(
        "--components",
        type=int,
        default=_DEFAULTS.components,
        help="Mixture components C of the hedged embedding (1: one Gaussian).",
    )
    model.add_argument(
        "--point",
        action="store_true",
        help="Train the point-embedding baseline instead (needs --components 1).",
    )
    model.add_argument(
        "--learned_weights",
        action="store_true",
        help="Learn the mixture weights instead of keeping them equal.",
    )
    model.add_argument(
        "--filters",
        type=int,
        nargs=2,
        default=list(_DEFAULTS.filters),
        metavar=("CONV1", "CONV2"),
        help="Filters of the two convolutions.",
    )
    loss = p.add_argument_group("loss")
    loss.add_argument(
        "--samples",
        type=int,
        default=_DEFAULTS.samples,
        help="Monte-Carlo samples K per image, a multiple of --components.",
    )
    loss.add_argument(
        "--beta", type=float, default=_DEFAULTS.beta, help="Weight of the KL regulariser (VIB)."
    )
    loss.add_argument(
        "--loss_form",
        choices=losses.LOSS_FORMS,
        default=_DEFAULTS.loss_form,
        help="log_of_mean: log of the Monte-Carlo match probability (paper "
        "figure 2); mean_of_log: mean log-sigmoid over sample pairs "
        "(equation 8).",
    )
    optimisation = p.add_argument_group("optimisation")
    optimisation.add_argument(
        "--batch_size",
        type=int,
        default=_DEFAULTS.batch_size,
        help="Images per batch; every pair in it is a training pair.",
    )
    optimisation.add_argument(
        "--steps", type=int, default=_DEFAULTS.steps, help="Training steps (the paper: 500000)."
    )
    optimisation.add_argument(
        "--learning_rate",
        type=float,
        default=_DEFAULTS.learning_rate,
        help="The optimizer's (initial) learning rate.",
    )
    optimisation.add_argument(
        "--lr_schedule",
        choices=LR_SCHEDULES,
        default=_DEFAULTS.lr_schedule,
        help="constant, or cosine: decay to 0 over --steps (resuming keeps the curve).",
    )
    optimisation.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default=_DEFAULTS.optimizer,
        help="adam, or sgd: SGD with Nesterov momentum 0.9 (the paper names neither).",
    )
    optimisation.add_argument(
        "--seed",
        type=int,
        default=_DEFAULTS.seed,
        help="Seed of initialisation, batches, occlusion and noise.",
    )
    optimisation.add_argument(
        "--jit_compile", action="store_true", help="Compile the training step with XLA."
    )
    optimisation.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=_DEFAULTS.strategy,
        help="default: one device; mirrored: every local GPU (or logical CPU device); "
        "multi_worker: the workers listed in TF_CONFIG, every worker running the same "
        "command with the same --output_dir on a shared filesystem. --batch_size is the "
        "global batch, split evenly, and each replica scores the pairs of its own part.",
    )
    run = p.add_argument_group("run")
    run.add_argument(
        "--output_dir",
        default=None,
        help="Run folder: config, checkpoints, TensorBoard logs, SavedModel "
        "(default: runs/<digits>digit_<gap>_d<dim>_<mogC|point>_seed<seed>).",
    )
    run.add_argument(
        "--log_every",
        type=int,
        default=_DEFAULTS.log_every,
        help="Steps between metric logs (one Keras epoch).",
    )
    run.add_argument(
        "--checkpoint_every",
        type=int,
        default=_DEFAULTS.checkpoint_every,
        help="Steps between checkpoints, a multiple of --log_every.",
    )
    run.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0: silent, 1: progress bar, 2: one line per --log_every steps.",
    )
    return p


def main(argv=None):
    args = vars(parser().parse_args(argv))
    verbose = args.pop("verbose")
    try:
        config = TrainConfig(**args)
        loop.train(config, verbose=verbose)
    except (ValueError, loop.NonFiniteLossError) as error:
        sys.exit(f"train.py: error: {error}")
