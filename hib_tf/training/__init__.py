"""Training: the run configuration, the training loop and the train.py command line."""

from hib_tf.training.config import TrainConfig
from hib_tf.training.loop import NonFiniteLossError
from hib_tf.training.loop import RunFolderError
from hib_tf.training.loop import train

__all__ = ["NonFiniteLossError", "RunFolderError", "TrainConfig", "train"]
