"""Monte-Carlo match scores of exported embeddings: for given pairs, and every image's neighbours.

Everything here works from the arrays a SavedModel's ``embed`` returns plus its scalars a and b,
with our own stateless-seeded samples, so evaluation needs no training code.

Scores are *mismatch* probabilities ``q = 1 - p(m | x1, x2) = sum_kl w_k w_l sigmoid(a d_kl - b)``
rather than match probabilities: near a match ``p`` rounds to 1 in float32 (ties among the
nearest neighbours), while ``q`` keeps its relative precision there.

Leave-one-out kNN needs every image scored against every other: ``M^2 K^2`` sigmoid terms (6.4
billion for 10,000 images at K = 8). :func:`nearest_neighbors` tiles the ``M x M`` matrix into
``T x T`` blocks, computes a row of blocks at a time in one XLA-fused kernel (the ``K x K`` sample
pairs are never stored) and keeps only each row's k best. The matrix is symmetric, so each
unordered pair of blocks is computed once: with an odd number of blocks ``n``, row block ``I``
takes column blocks ``I .. I + (n - 1) / 2`` (mod ``n``) and hands the transposed part to the
rows of the other blocks. Memory is O(T^2 n + M k), whatever K.
"""

import numpy as np
import tensorflow as tf

DEFAULT_TILE = 512
MISMATCH = "mismatch"
SQUARED_DISTANCE = "squared_distance"


def draw_samples(embedding, num_samples, seed, stream, ids):
    """Stratified samples of each image's embedding, with weights, as HIB scores them.

    ``K / C`` samples come from each mixture component and carry weight ``w_c / (K / C)``
    (paper section 2.2). The noise of image ``ids[i]`` is row ``ids[i]`` of one table drawn from
    ``(seed, stream)``, so a subsample of a split sees the same draws as the whole split, and the
    clean and corrupt twins of an image share their noise (their scores differ by the images
    alone).

    Args:
      embedding: dict of float32 arrays: ``mixture_weights`` [M, C], ``means`` [M, C, D],
        ``stddevs`` [M, C, D] (zeros for point embeddings).
      num_samples: K, a positive multiple of C.
      seed: int, the run's seed.
      stream: int, which independent sample set (e.g. the two sets of the uncertainty eta).
      ids: int [M] >= 0, each image's position in its split.

    Returns:
      ``(samples, weights)``: float32 [M, K, D] and float32 [M, K]; each row of weights sums to 1.

    Raises:
      ValueError: if K is not a positive multiple of C.
    """
    weights, means, stddevs = (
        np.asarray(embedding[key], np.float32) for key in ("mixture_weights", "means", "stddevs")
    )
    components, dim = means.shape[1:]
    if num_samples <= 0 or num_samples % components:
        raise ValueError(
            f"The number of samples ({num_samples}) must be a positive multiple of the number "
            f"of mixture components ({components})."
        )
    per_component = num_samples // components
    ids = np.asarray(ids, np.int64)
    table_size = int(ids.max()) + 1 if len(ids) else 0
    noise = tf.random.stateless_normal(
        [table_size, num_samples, dim], seed=[seed, stream], alg="philox"
    ).numpy()[ids]
    locs = np.repeat(means, per_component, axis=1)
    scales = np.repeat(stddevs, per_component, axis=1)
    return locs + scales * noise, np.repeat(weights / per_component, per_component, axis=1)


@tf.function(
    input_signature=[
        tf.TensorSpec([None, None, None], tf.float32),
        tf.TensorSpec([None, None], tf.float32),
        tf.TensorSpec([None, None, None], tf.float32),
        tf.TensorSpec([None, None], tf.float32),
        tf.TensorSpec([], tf.float32),
        tf.TensorSpec([], tf.float32),
    ]
)
def _paired_mismatch(samples1, weights1, samples2, weights2, a, b):
    distances = tf.norm(samples1[:, :, None, :] - samples2[:, None, :, :], axis=-1)
    terms = tf.sigmoid(a * distances - b) * weights1[:, :, None] * weights2[:, None, :]
    return tf.reduce_sum(terms, axis=[1, 2])


def paired_mismatch(samples1, weights1, samples2, weights2, a, b, batch_size=8192):
    """Monte-Carlo ``1 - p(m | x1, x2)`` of each pair ``(x1[i], x2[i])`` (paper equation 5).

    The eta of an image is this with its two independent sample sets (paper equation 9).

    Args:
      samples1: float32 [P, K1, D].
      weights1: float32 [P, K1], rows summing to 1.
      samples2: float32 [P, K2, D].
      weights2: float32 [P, K2].
      a: float > 0, b: float; the SavedModel's match calibration.
      batch_size: pairs per call, bounding memory to ``batch_size * K1 * K2`` terms.

    Returns:
      float32 [P] in [0, 1].
    """
    parts = [
        _paired_mismatch(
            samples1[start : start + batch_size],
            weights1[start : start + batch_size],
            samples2[start : start + batch_size],
            weights2[start : start + batch_size],
            float(a),
            float(b),
        ).numpy()
        for start in range(0, len(samples1), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros([0], np.float32)


def _block_dissimilarity(rows, row_weights, cols, col_weights, a, b, kind):
    """[T, W T] dissimilarities of T row images against a window of W T column images.

    Args:
      rows: float32 [T, K, D]; row_weights: float32 [T, K].
      cols: float32 [D, K, W T], samples laid out so the innermost axis is the column image
        (it vectorises); col_weights: float32 [K, W T].
      a, b: float32 scalars; kind: MISMATCH or SQUARED_DISTANCE (K = 1, weights ignored).
    """
    squared = 0.0
    for d in range(rows.shape[2]):  # D is small and static: an unrolled, fused loop.
        difference = rows[:, :, None, None, d] - cols[d][None, None]  # [T, K, K, W T]
        squared += difference * difference
    if kind == SQUARED_DISTANCE:
        return squared[:, 0, 0]
    # x * rsqrt(x) is several times faster than sqrt(x) on XLA:CPU, and as accurate here.
    distances = squared * tf.math.rsqrt(tf.maximum(squared, 1e-30))
    terms = tf.sigmoid(a * distances - b) * col_weights[None, None]
    return tf.reduce_sum(tf.reduce_sum(terms, axis=2) * row_weights[:, :, None], axis=1)


def _block_top_k(rows, row_weights, cols, col_weights, block, count, a, b, *, window, k, kind):
    """The k least dissimilar columns of a row block's window, both ways round.

    Args:
      rows: float32 [T, K, D], the images of row block ``block``; row_weights: float32 [T, K].
      cols: float32 [D, K, Mp], every (padded) image; col_weights: float32 [K, Mp].
      block: int32 scalar, the row block I. count: int32 scalar, the number of real images M
        (padding beyond is never a neighbour).
      a, b: float32 scalars. window: W (static). k: neighbours kept (static). kind: see
        :func:`_block_dissimilarity`.

    Returns:
      ``(row_values, row_ids, col_values, col_ids)``: float32 [T, k] and int32 [T, k], the rows'
      k best columns in the window; float32 [W - 1, T, k] and int32 [W - 1, T, k], for the
      images of blocks I + 1 .. I + W - 1, their k best among the rows of block I.
    """
    tile = rows.shape[0]
    padded = cols.shape[2]
    start = block * tile
    width = window * tile
    # A gather, not a slice at `start`: XLA would compile a slice once per start value.
    col_ids = (start + tf.range(width)) % padded
    window_cols = tf.gather(cols, col_ids, axis=2)
    window_weights = tf.gather(col_weights, col_ids, axis=1)
    dissimilarity = _block_dissimilarity(rows, row_weights, window_cols, window_weights, a, b, kind)
    row_ids = start + tf.range(tile)
    excluded = (
        tf.equal(col_ids[None, :], row_ids[:, None])
        | (col_ids[None, :] >= count)
        | (row_ids[:, None] >= count)
    )
    dissimilarity = tf.where(excluded, np.inf, dissimilarity)
    row_values, row_positions = tf.math.top_k(-dissimilarity, k)
    transposed = tf.transpose(
        tf.reshape(dissimilarity[:, tile:], [tile, window - 1, tile]), [1, 2, 0]
    )
    col_values, col_positions = tf.math.top_k(-transposed, k)
    return -row_values, tf.gather(col_ids, row_positions), -col_values, start + col_positions


_compiled_block_top_k = tf.function(_block_top_k, jit_compile=True)


def _tiling(count, tile):
    """(tile size, odd number of blocks n, window W) for ``count`` images."""
    tile = min(tile, -(-count // 8) * 8)
    blocks = -(-count // tile)
    blocks += 1 - blocks % 2
    return tile, blocks, (blocks + 1) // 2


def nearest_neighbors(
    samples, weights, k, a=1.0, b=0.0, kind=MISMATCH, tile=DEFAULT_TILE, progress=None
):
    """Each image's k nearest other images, leave-one-out, by a chunked all-pairs scan.

    Args:
      samples: float32 [M, K, D] (for SQUARED_DISTANCE, K = 1: the points).
      weights: float32 [M, K], rows summing to 1.
      k: neighbours per image, < M.
      a, b: the match calibration (MISMATCH only).
      kind: MISMATCH ranks by the Monte-Carlo ``1 - p(m | x_i, x_j)``; SQUARED_DISTANCE by
        ``||x_i - x_j||^2``.
      tile: T, images per block; the kernel holds ``T x T (n + 1) / 2`` scores.
      progress: optional callable ``progress(done_blocks, total_blocks)``.

    Returns:
      ``(ids, values)``: int64 [M, k] and float32 [M, k], sorted by dissimilarity, exact ties by
      id (ties inside a block's k best are cut by TensorFlow's ``top_k``: a stable, fixed order).

    Raises:
      ValueError: if there are not more than k images, or kind is unknown.
    """
    count = len(samples)
    if count <= k:
        raise ValueError(f"Leave-one-out {k}-NN needs more than {k} images; got {count}.")
    if kind not in (MISMATCH, SQUARED_DISTANCE):
        raise ValueError(f"Unknown kind {kind!r}.")
    tile, blocks, window = _tiling(count, tile)
    padded = tile * blocks
    samples = np.pad(np.asarray(samples, np.float32), [(0, padded - count), (0, 0), (0, 0)])
    weights = np.pad(np.asarray(weights, np.float32), [(0, padded - count), (0, 0)])
    cols = tf.constant(np.transpose(samples, (2, 1, 0)))  # [D, K, Mp]: images innermost.
    col_weights = tf.constant(weights.T)  # [K, Mp]
    values = np.full([blocks, tile, window, k], np.inf, np.float32)
    ids = np.zeros([blocks, tile, window, k], np.int64)
    for block in range(blocks):
        rows = slice(block * tile, (block + 1) * tile)
        row_values, row_ids, col_values, col_ids = _compiled_block_top_k(
            samples[rows],
            weights[rows],
            cols,
            col_weights,
            tf.constant(block, tf.int32),
            tf.constant(count, tf.int32),
            tf.constant(a, tf.float32),
            tf.constant(b, tf.float32),
            window=window,
            k=k,
            kind=kind,
        )
        values[block, :, 0], ids[block, :, 0] = row_values.numpy(), row_ids.numpy()
        # Block I + o receives slot o: each unordered pair of blocks lands in one slot only.
        targets = (block + np.arange(1, window)) % blocks
        values[targets, :, np.arange(1, window)] = col_values.numpy()
        ids[targets, :, np.arange(1, window)] = col_ids.numpy()
        if progress:
            progress(block + 1, blocks)
    values = values.reshape(padded, window * k)[:count]
    ids = ids.reshape(padded, window * k)[:count]
    order = np.lexsort((ids, values), axis=-1)[:, :k]
    return np.take_along_axis(ids, order, -1), np.take_along_axis(values, order, -1)
