"""Prediction and feedback logs: journaled on the request path, Parquet segments at rest."""

from loopml.predictions.log import PredictionLog
from loopml.predictions.records import PredictionRecord

__all__ = ["PredictionLog", "PredictionRecord"]
