"""The controller: triggers that start pipelines, and the reconcile loop that runs them,
runs scheduled monitors and drives rollouts."""

from loopml.controller.launchers import FunctionLauncher, PipelineRunLauncher
from loopml.controller.loop import Controller, ReconcileReport
from loopml.controller.ports import (
    Candidate,
    LaunchOutcome,
    PipelineLauncher,
    RolloutChange,
    RolloutDriver,
)
from loopml.controller.rollout_driver import RolloutServiceDriver
from loopml.controller.trigger_records import RolloutSpec, Trigger, TriggerEvent, TriggerSource
from loopml.controller.triggers import TriggerService

__all__ = [
    "Candidate",
    "Controller",
    "FunctionLauncher",
    "LaunchOutcome",
    "PipelineLauncher",
    "PipelineRunLauncher",
    "ReconcileReport",
    "RolloutChange",
    "RolloutDriver",
    "RolloutServiceDriver",
    "RolloutSpec",
    "Trigger",
    "TriggerEvent",
    "TriggerService",
    "TriggerSource",
]
