"""Times a full build of the standard n_digit_mnist configs from a local source folder.

  python bench/build_time.py --manual_dir ../shared/data [--configs 2digit_number 3digit_number]

Target (issue 2): under 2 minutes per config on a 2-core machine. Builds into a temporary
folder, so nothing cached from an earlier run is reused.
"""

import argparse
import platform
import tempfile
import time

import tensorflow_datasets as tfds

import hib_tf  # noqa: F401  (registers n_digit_mnist)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--manual_dir",
        required=True,
        help="Folder with the MNIST IDX files and the official index tables.",
    )
    parser.add_argument("--configs", nargs="+", default=["2digit_number", "3digit_number"])
    args = parser.parse_args()
    rows = []
    for config in args.configs:
        with tempfile.TemporaryDirectory() as data_dir:
            builder = tfds.builder(f"n_digit_mnist/{config}", data_dir=data_dir)
            start = time.perf_counter()
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(manual_dir=args.manual_dir)
            )
            seconds = time.perf_counter() - start
            sizes = {name: split.num_examples for name, split in builder.info.splits.items()}
            rows.append((config, seconds, sizes))
    print(
        f"\nmachine: {platform.machine()}, {platform.processor() or 'cpu'}, tfds {tfds.__version__}"
    )
    print("| config | build seconds | split sizes |\n|---|---|---|")
    for config, seconds, sizes in rows:
        print(f"| {config} | {seconds:.1f} | {sizes} |")


if __name__ == "__main__":
    main()
