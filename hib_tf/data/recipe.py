"""The official recipe (google/n-digit-mnist) for index tables of any number of digits.

For 2 and 3 digits the builder reads the published "standard" tables instead; this recipe
makes tables for other N the way the official generator does, from a fixed seed:
  - `instance` gap: every number in train and test, equally many examples each;
  - `number` gap: 70% of the numbers (drawn at random) are train classes; `test_seen` has
    the same classes with new digit images, `test_unseen` the other numbers. When a split
    cannot give each class `min_per_number` examples, classes are subsampled.
Each example of a number draws, per position, a distinct MNIST image of that digit.
"""

import numpy as np

from hib_tf.data.sources import IndexTable


def split_names(gap):
    """The splits of a protocol: the `number` gap keeps seen and unseen test classes apart."""
    if gap == "instance":
        return ("train", "test")
    if gap == "number":
        return ("train", "test_seen", "test_unseen")
    raise ValueError(f"gap must be 'number' or 'instance', got {gap!r}.")


def number_digits(numbers, num_digits):
    """Digits of each number, most significant first: int64 [..., N]."""
    powers = 10 ** np.arange(num_digits - 1, -1, -1, dtype=np.int64)
    return (np.asarray(numbers, np.int64)[..., None] // powers) % 10


def make_index_tables(
    num_digits,
    gap,
    seed,
    train_labels,
    test_labels,
    *,
    train_number_percent=70,
    total_train=100_000,
    total_test=10_000,
    min_per_number=100,
):
    """Draws the index table of every split.

    Args:
      num_digits: N >= 1.
      gap: 'number' or 'instance'.
      seed: seed of the NumPy generator; the same seed gives the same tables.
      train_labels, test_labels: MNIST labels [n] of the train and test images.
      train_number_percent, total_train, total_test, min_per_number: the official
        generator's parameters, with its defaults.

    Returns:
      dict from split name to IndexTable.

    Raises:
      ValueError: if the parameters cannot give every class at least one example (or, for
        the train split, `min_per_number`), or MNIST lacks enough images of a digit.
    """
    rng = np.random.RandomState(seed)
    all_numbers = np.arange(10**num_digits)
    tables, train_numbers = {}, None
    for split in split_names(gap):
        total = total_train if split == "train" else total_test
        if gap == "instance":
            numbers = all_numbers
        elif split == "train":
            numbers = rng.choice(
                all_numbers, train_number_percent * len(all_numbers) // 100, replace=False
            )
            train_numbers = numbers
        elif split == "test_seen":
            numbers = train_numbers.copy()
        else:
            numbers = np.setdiff1d(all_numbers, train_numbers)
        per_number = total // max(len(numbers), 1)
        if gap == "number" and per_number < min_per_number:
            per_number = min_per_number
            numbers = rng.choice(numbers, total // per_number, replace=False)
        if (
            per_number < 1
            or len(numbers) == 0
            or (split == "train" and per_number < min_per_number)
        ):
            raise ValueError(
                f"{num_digits} digits with the {gap!r} gap cannot give each of "
                f"{len(numbers)} classes {min_per_number} examples out of {total}; "
                "use fewer digits or the number gap."
            )
        tables[split] = IndexTable(
            numbers=np.asarray(numbers, np.int64),
            image_ids=_draw_image_ids(
                rng,
                numbers,
                num_digits,
                per_number,
                train_labels if split == "train" else test_labels,
            ),
        )
    return tables


def _draw_image_ids(rng, numbers, num_digits, per_number, labels):
    """[classes, per_number, N] distinct MNIST images of the right digit per position."""
    by_digit = [np.flatnonzero(labels == digit) for digit in range(10)]
    if min(len(ids) for ids in by_digit) < per_number:
        raise ValueError(
            f"MNIST has too few images of some digit for {per_number} examples per number."
        )
    digits = number_digits(numbers, num_digits)
    return np.stack(
        [
            np.stack([rng.choice(by_digit[d], per_number, replace=False) for d in row], axis=-1)
            for row in digits
        ]
    ).astype(np.int64)
