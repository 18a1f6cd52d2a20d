"""Evaluation of exported HIB SavedModels (paper sections 4.3, 4.4): `evaluate.py`.

SavedModel -> `saved_model` (metadata, embeddings) -> `scoring` (Monte-Carlo match
probabilities, chunked all-pairs neighbours) -> `metrics` (AP, kNN, Kendall's tau, AUROC,
risk-coverage, calibration) -> `evaluator` (one split, both twins) -> `report`, `figures` ->
`cli`. Data: `data` (test twins, verification pairs); paper numbers: `references`.
"""

from hib_tf.evaluation.data import EvaluationError
from hib_tf.evaluation.evaluator import Settings
from hib_tf.evaluation.evaluator import evaluate_split
from hib_tf.evaluation.evaluator import evaluate_twin
from hib_tf.evaluation.scoring import nearest_neighbors
from hib_tf.evaluation.scoring import paired_mismatch

__all__ = [
    "EvaluationError",
    "Settings",
    "evaluate_split",
    "evaluate_twin",
    "nearest_neighbors",
    "paired_mismatch",
]
