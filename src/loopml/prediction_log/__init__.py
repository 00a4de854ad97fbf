"""Prediction and feedback logs: journaled on the request path, Parquet segments at rest."""

from loopml.prediction_log.log import PredictionLog
from loopml.prediction_log.records import PredictionRecord

__all__ = ["PredictionLog", "PredictionRecord"]
