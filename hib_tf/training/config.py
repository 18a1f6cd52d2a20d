"""The configuration of a training run: one frozen dataclass, saved beside the model as JSON.

The command line only fills it in. A run's folder holds its config.json; running again with
the same config resumes that run, and a different config is refused rather than mixed in.
"""

import dataclasses
import json

from hib_tf import losses
from hib_tf.training.strategy import STRATEGIES

CONFIG_FILENAME = "config.json"
LR_SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "sgd")
LOCATION_FIELDS = ("output_dir", "data_dir", "manual_dir")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (see `train.py --help` for each field).

    `output_dir` defaults to runs/<a name made of the main settings>.
    """

    output_dir: str | None = None
    digits: int = 2
    gap: str = "number"
    dim: int = 2
    components: int = 2
    point: bool = False
    learned_weights: bool = False
    samples: int = 8
    beta: float = 1e-4
    loss_form: str = losses.LOG_OF_MEAN
    filters: tuple = (16, 32)
    batch_size: int = 128
    # The schedule the issue-5 study chose (docs/RESULTS.md): the best of its search that keeps
    # a 3-digit run inside 15 minutes on 2 CPU cores; the paper trained 500k steps.
    steps: int = 4000
    learning_rate: float = 1e-2
    lr_schedule: str = "cosine"
    optimizer: str = "adam"
    seed: int = 0
    occlusion_probability: float = 0.2
    log_every: int = 100
    checkpoint_every: int = 500
    jit_compile: bool = False
    strategy: str = "default"
    data_dir: str | None = None
    manual_dir: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "filters", tuple(self.filters))
        if self.output_dir is None:
            kind = "point" if self.point else f"mog{self.components}"
            object.__setattr__(
                self,
                "output_dir",
                (f"runs/{self.digits}digit_{self.gap}_d{self.dim}_{kind}_seed{self.seed}"),
            )
        problems = []
        if self.digits < 1:
            problems.append(f"digits must be >= 1, got {self.digits}")
        if self.gap not in ("number", "instance"):
            problems.append(f"gap must be 'number' or 'instance', got {self.gap!r}")
        if self.dim < 1:
            problems.append(f"dim must be >= 1, got {self.dim}")
        if self.point and self.components != 1:
            problems.append("a point embedding has one component: use --components 1 with --point")
        if not self.point and (self.components < 1 or self.samples % self.components):
            problems.append(
                f"samples ({self.samples}) must be a positive multiple of components "
                f"({self.components}) for stratified sampling"
            )
        if self.loss_form not in losses.LOSS_FORMS:
            problems.append(f"loss_form must be one of {losses.LOSS_FORMS}, got {self.loss_form!r}")
        if self.beta < 0:
            problems.append(f"beta must be >= 0, got {self.beta}")
        if self.batch_size <= 64:
            problems.append(
                f"batch_size must exceed 64 (16 classes x 4 images plus random "
                f"images), got {self.batch_size}"
            )
        if self.learning_rate <= 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            problems.append(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0 <= self.occlusion_probability <= 1:
            problems.append(
                f"occlusion_probability must be in [0, 1], got {self.occlusion_probability}"
            )
        if self.steps < 1 or self.log_every < 1 or self.steps % self.log_every:
            problems.append(
                f"steps ({self.steps}) must be a positive multiple of log_every ({self.log_every})"
            )
        if self.checkpoint_every < 1 or self.checkpoint_every % self.log_every:
            problems.append(
                f"checkpoint_every ({self.checkpoint_every}) must be a positive "
                f"multiple of log_every ({self.log_every})"
            )
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if len(self.filters) != 2 or min(self.filters) < 1:
            problems.append(f"filters must be two positive counts, got {self.filters}")
        if problems:
            raise ValueError("Invalid training config: " + "; ".join(problems) + ".")

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))

    def differences(self, other):
        """Names of the fields, other than locations, whose values differ from `other`'s.

        Where the run and its data live does not change what the run is, so a run folder that
        was moved, or resumed from another checkout or with the data elsewhere, still resumes.
        """
        return [
            field.name
            for field in dataclasses.fields(self)
            if field.name not in LOCATION_FIELDS
            and getattr(self, field.name) != getattr(other, field.name)
        ]
