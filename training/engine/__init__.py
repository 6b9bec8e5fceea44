"""Training's compute: built-in algorithms, preprocessing, metrics and model artifacts.

Pure Python (scikit-learn, xgboost, numpy, pandas, pyarrow); nothing from Django, so it runs
the same in a worker's child process and in a notebook.
"""

from training.engine.algorithms import algorithms, get_algorithm
from training.engine.artifact import TrainedModel, load, read_metadata
from training.engine.train import TrainingError, check_spec, train

__all__ = [
    "TrainedModel",
    "TrainingError",
    "algorithms",
    "check_spec",
    "get_algorithm",
    "load",
    "read_metadata",
    "train",
]
