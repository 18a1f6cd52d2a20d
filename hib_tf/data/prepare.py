"""Builds an n_digit_mnist config and checks that the training pipeline reads it.

  python -m hib_tf.data.prepare --digits 2 --gap number [--manual_dir FOLDER] [--data_dir D]

Prints the split sizes and the make-up of one training batch, so a new machine can be
checked end to end before a long training run.
"""

import argparse
import sys

import numpy as np
import tensorflow_datasets as tfds

from hib_tf.data import pipeline
from hib_tf.data import sources


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m hib_tf.data.prepare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--digits",
        type=int,
        choices=(2, 3),
        default=2,
        help="Digits per image (the official standard configs).",
    )
    parser.add_argument(
        "--gap",
        choices=("number", "instance"),
        default="number",
        help="Split protocol: 'number' keeps test classes apart (the paper's).",
    )
    parser.add_argument(
        "--manual_dir",
        default=None,
        help="Folder with the MNIST IDX files and the official index tables, "
        f"for offline builds (or set {sources.SOURCE_DIR_ENV}).",
    )
    parser.add_argument(
        "--data_dir",
        default=None,
        help="TFDS data folder (default: TFDS's, ~/tensorflow_datasets).",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        builder = tfds.builder(pipeline.dataset_name(args.digits, args.gap), data_dir=args.data_dir)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=args.manual_dir)
        )
    except sources.SourceError as error:
        sys.exit(f"error: {error}")
    print(f"{builder.info.full_name} in {builder.data_dir}")
    for name, split in builder.info.splits.items():
        print(f"  {name}: {split.num_examples:,} examples")
    examples = pipeline.load_split(args.digits, args.gap, "train", data_dir=args.data_dir)
    images, labels = next(iter(pipeline.training_batches(examples)))
    labels = labels.numpy()
    positives = ((labels[:, None] == labels[None]).sum() - len(labels)) // 2
    print(
        f"training batch: images {images.shape} {images.dtype.name} in "
        f"[{np.min(images):.1f}, {np.max(images):.1f}], {len(set(labels))} classes, "
        f"{positives} positive pairs"
    )


if __name__ == "__main__":
    main()
