"""Model performance estimated from predictions alone, before labels arrive."""

from loopml.monitoring.estimation.confidence import ConfidenceEstimator
from loopml.monitoring.estimation.estimate import Estimate
from loopml.monitoring.estimation.loss import LossEstimator

__all__ = ["ConfidenceEstimator", "Estimate", "LossEstimator"]
