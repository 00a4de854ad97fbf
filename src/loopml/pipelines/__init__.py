"""Pipelines: steps with cached results, DAGs, executors (local, process pool, Ray),
sweeps and the validation gate."""

from loopml.pipelines.cache import StepCache, cache_key
from loopml.pipelines.context import PipelineClient, current_client, current_run
from loopml.pipelines.definition import Pipeline, pipeline
from loopml.pipelines.executors import EXECUTORS, ExecutorCapabilities, make_executor
from loopml.pipelines.fingerprint import code_fingerprint
from loopml.pipelines.gate import GateResult, validation_gate
from loopml.pipelines.graph import StepOutput
from loopml.pipelines.loader import load_pipeline, run_pipeline
from loopml.pipelines.outputs import StoredOutput
from loopml.pipelines.queries import PIPELINE_TAG, PipelineRunSummary, list_pipeline_runs
from loopml.pipelines.results import PipelineFailedError, PipelineResult, StepResult
from loopml.pipelines.steps import Step, step
from loopml.pipelines.sweep import optuna_search, random_search, sweep

__all__ = [
    "EXECUTORS",
    "PIPELINE_TAG",
    "ExecutorCapabilities",
    "GateResult",
    "Pipeline",
    "PipelineClient",
    "PipelineFailedError",
    "PipelineResult",
    "PipelineRunSummary",
    "Step",
    "StepCache",
    "StepOutput",
    "StepResult",
    "StoredOutput",
    "cache_key",
    "code_fingerprint",
    "current_client",
    "current_run",
    "list_pipeline_runs",
    "load_pipeline",
    "make_executor",
    "optuna_search",
    "pipeline",
    "random_search",
    "run_pipeline",
    "step",
    "sweep",
    "validation_gate",
]
