"""The controller: triggers that start pipelines, and the reconcile loop that runs them,
runs scheduled monitors and drives rollouts."""

from loopml.controller.adapters import default_launcher, default_rollout_driver
from loopml.controller.launchers import FunctionLauncher
from loopml.controller.loop import Controller, ReconcileReport
from loopml.controller.ports import (
    Candidate,
    LaunchOutcome,
    PipelineLauncher,
    RolloutChange,
    RolloutDriver,
)
from loopml.controller.trigger_records import RolloutSpec, Trigger, TriggerEvent, TriggerSource
from loopml.controller.triggers import TriggerService

__all__ = [
    "Candidate",
    "Controller",
    "FunctionLauncher",
    "LaunchOutcome",
    "PipelineLauncher",
    "ReconcileReport",
    "RolloutChange",
    "RolloutDriver",
    "RolloutSpec",
    "Trigger",
    "TriggerEvent",
    "TriggerService",
    "TriggerSource",
    "default_launcher",
    "default_rollout_driver",
]
