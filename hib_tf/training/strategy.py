"""Distribution strategies: which one a run uses, how it splits batches, and who writes files.

Pairs never cross replicas: each replica scores every pair of its own per-replica batch, and
`HIBModel.train_step` averages the replicas' losses (gradients are summed over replicas by the
optimizer, and each replica's loss is divided by the replica count). Scoring pairs across
replicas would need an all-gather of the embeddings inside the step, for a loss that differs only
in which pairs it counts. So each per-replica batch must itself be class-balanced (SPEC.md
section 4): the global batch keeps the single-device composition, 16 classes x 4 images plus
random images, split evenly, each replica drawing `16 // replicas` classes (at least 3, for at
least 16 positive pairs) and its share of random images from its own stream.

Batches stay a function of (seed, step), so a resumed run sees the data it would have seen.
Every input pipeline (one per worker) draws from its own segment of the `training_batches`
stream of the run's seed, and its local replicas take consecutive batches from it: replica `j`
of worker `w` trains at step `t` on batch `w * PIPELINE_STRIDE + t * local_replicas + j`. With
one replica this is batch `t`, the single-device stream.

In multi-worker runs only the chief writes into the run folder; the other workers write their
checkpoints, logs and exports into a temporary folder that is deleted afterwards, as TensorFlow's
multi-worker guide recommends (every worker still saves, since saving may run collective ops).
"""

import contextlib
import functools
import math
import os
import shutil
import tempfile

from etils import epath
import tensorflow as tf

from hib_tf.data import pipeline

DEFAULT = "default"
MIRRORED = "mirrored"
MULTI_WORKER = "multi_worker"
STRATEGIES = (DEFAULT, MIRRORED, MULTI_WORKER)

# The class-balanced stream of a single-device batch (SPEC.md section 4).
CLASSES_PER_BATCH = 16
IMAGES_PER_CLASS = 4
MIN_POSITIVE_PAIRS = 16
# Batches apart of two input pipelines' segments of the stream: no overlap for 2**40 batches.
PIPELINE_STRIDE = 2**40


def make_strategy(name):
    """The tf.distribute strategy of `name`, one of STRATEGIES.

    "default" is `tf.distribute.get_strategy()` (one device); "mirrored" is a
    `MirroredStrategy` over every local GPU, or every logical CPU device when there is no GPU;
    "multi_worker" is a `MultiWorkerMirroredStrategy` configured by the `TF_CONFIG` environment
    variable. Call it before TensorFlow runs any op: a multi-worker strategy must configure the
    runtime at program start. Distributed strategies are created once per process and reused,
    since a second multi-worker strategy cannot be created.

    Raises:
      ValueError: for an unknown name, or "multi_worker" without TF_CONFIG.
    """
    if name == DEFAULT:
        return tf.distribute.get_strategy()
    if name == MULTI_WORKER and not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "--strategy multi_worker needs the TF_CONFIG environment variable, a JSON "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", '
            '"index": 0}} set on every worker (see tf.distribute.MultiWorkerMirroredStrategy).'
        )
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")
    return _distributed_strategy(name)


@functools.cache
def _distributed_strategy(name):
    if name == MIRRORED:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def replica_layout(batch_size, replicas):
    """How a global batch is split: (images, classes) of each per-replica batch.

    Raises:
      ValueError: if the batch does not split into class-balanced per-replica batches with at
        least MIN_POSITIVE_PAIRS positive pairs and some random images each.
    """
    pairs_per_class = math.comb(IMAGES_PER_CLASS, 2)
    classes = max(CLASSES_PER_BATCH // replicas, math.ceil(MIN_POSITIVE_PAIRS / pairs_per_class))
    images = batch_size // replicas
    if batch_size % replicas or classes * IMAGES_PER_CLASS >= images:
        raise ValueError(
            f"batch_size {batch_size} does not split into {replicas} class-balanced per-replica "
            f"batches: each needs more than {classes} classes x {IMAGES_PER_CLASS} images and "
            f"the same size. Use a batch_size that is a multiple of {replicas} and larger than "
            f"{classes * IMAGES_PER_CLASS * replicas}."
        )
    return images, classes


def replica_batches(strategy, examples, config, start_step):
    """The training batches of `config` from `start_step` on, one per replica and step.

    Args:
      strategy: the run's tf.distribute strategy.
      examples: tf.data.Dataset of example dicts (see `pipeline.training_batches`).
      config: TrainConfig; `batch_size` is the global batch.
      start_step: the first training step to feed.

    Returns:
      A dataset of per-replica batches for `model.fit`, distributed over the replicas.
    """
    replicas = strategy.num_replicas_in_sync
    images, classes = replica_layout(config.batch_size, replicas)

    def input_pipeline(context):
        local_replicas = replicas // context.num_input_pipelines
        return pipeline.training_batches(
            examples,
            batch_size=images,
            classes_per_batch=classes,
            images_per_class=IMAGES_PER_CLASS,
            occlusion_probability=config.occlusion_probability,
            seed=config.seed,
            start_step=context.input_pipeline_id * PIPELINE_STRIDE + start_step * local_replicas,
        )

    return strategy.distribute_datasets_from_function(input_pipeline)


def is_chief(strategy):
    """Whether this process writes the run's files (always, outside a multi-worker cluster)."""
    resolver = strategy.cluster_resolver
    return resolver is None or is_chief_task(
        resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()
    )


def is_chief_task(task_type, task_id, cluster):
    """Whether a task writes the run's files: the chief, or worker 0 of a chief-less cluster.

    Args:
      task_type: "chief", "worker", ... or None outside a cluster.
      task_id: index of the task among those of its type.
      cluster: dict of task type -> addresses (`ClusterSpec.as_dict()`).
    """
    return (
        not task_type
        or task_type == "chief"
        or (task_type == "worker" and task_id == 0 and "chief" not in cluster)
    )


@contextlib.contextmanager
def write_folder(strategy, folder):
    """The folder this worker writes into: `folder` on the chief, else a temporary folder.

    Yields:
      epath.Path; a temporary folder is deleted when the context exits, even on errors.
    """
    if is_chief(strategy):
        yield epath.Path(folder)
        return
    resolver = strategy.cluster_resolver
    temporary = tempfile.mkdtemp(prefix=f"hib_{resolver.task_type}{resolver.task_id}_")
    try:
        yield epath.Path(temporary)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
