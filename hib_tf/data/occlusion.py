"""Random square occlusion of N-digit images (the paper's appendix A).

One op serves both the dataset builder (the fixed corrupt twin of each example) and the
training pipeline (occlusion drawn afresh every time an image is used), so train-time and
test-time corruption can never drift apart.

Per digit, independently: with probability `probability` the digit is occluded by a black
square of integer side L ~ Uniform{0, ..., 28} whose top-left corner (x, y) is drawn
independently from Uniform{0, ..., 28 - L}, so the square always lies inside its digit.
"""

import tensorflow as tf

DIGIT_SIZE = 28


def num_digits_of(images):
    """Number of digits N of a batch `[B, 28, 28 * N, 1]` (from its static shape)."""
    width = images.shape[-2]
    if (
        images.shape.rank != 4
        or images.shape[1] != DIGIT_SIZE
        or width is None
        or (width % DIGIT_SIZE)
    ):
        raise ValueError(f"Expected images of shape [B, 28, 28 * N, 1], got {images.shape}.")
    return width // DIGIT_SIZE


def sample_occlusion_boxes(seed, batch_size, num_digits, probability=1.0):
    """Draws one occlusion square per digit.

    Args:
      seed: int32/int64 [2], a stateless seed; the same seed gives the same boxes.
      batch_size: B, int or scalar tensor.
      num_digits: N, a Python int.
      probability: chance that a digit is occluded at all.

    Returns:
      int32 [B, N, 4]: (top, left, bottom, right) in pixels of the whole image, bottom and
      right exclusive. A digit left unoccluded gets an empty box (side 0) at its corner.
    """
    draws = tf.random.stateless_uniform([4, batch_size, num_digits], seed=seed)
    occluded = draws[0] < probability
    side = tf.cast(tf.floor(draws[1] * (DIGIT_SIZE + 1)), tf.int32)
    side = tf.where(occluded, side, 0)
    room = tf.cast(DIGIT_SIZE + 1 - side, tf.float32)  # corner in 0 .. 28 - side.
    top = tf.cast(tf.floor(draws[2] * room), tf.int32)
    left = tf.cast(tf.floor(draws[3] * room), tf.int32)
    left += DIGIT_SIZE * tf.range(num_digits, dtype=tf.int32)
    return tf.stack([top, left, top + side, left + side], axis=-1)


def apply_occlusion_boxes(images, boxes):
    """Blacks out (sets to 0) every box of every image.

    Args:
      images: [B, 28, 28 * N, 1], any dtype.
      boxes: int32 [B, N, 4] as returned by `sample_occlusion_boxes`.

    Returns:
      `images` with the boxes set to zero, same shape and dtype.
    """
    rows = tf.range(tf.shape(images)[1], dtype=tf.int32)[None, None, :, None]
    cols = tf.range(tf.shape(images)[2], dtype=tf.int32)[None, None, None, :]
    top, left, bottom, right = [boxes[..., i, None, None] for i in range(4)]
    inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    covered = tf.reduce_any(inside, axis=1)[..., None]  # [B, 28, 28N, 1]
    return tf.where(covered, tf.zeros_like(images), images)


def occlude(images, seed, probability=1.0):
    """Occludes each digit of each image independently; see the module docstring.

    Args:
      images: [B, 28, 28 * N, 1], any dtype (uint8 or float in [0, 1]).
      seed: int [2] stateless seed.
      probability: chance that each digit is occluded (1.0 for the corrupt twin, 0.2 when
        training).

    Returns:
      (occluded images, same shape and dtype; boxes, int32 [B, N, 4]).
    """
    images = tf.convert_to_tensor(images)
    boxes = sample_occlusion_boxes(seed, tf.shape(images)[0], num_digits_of(images), probability)
    return apply_occlusion_boxes(images, boxes), boxes
