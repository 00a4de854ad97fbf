"""One API, written once: the fluent functions forward to the client with the client's own
signature, and each namespace's local and remote implementations have the signatures of
its Protocol (names, kinds and defaults of every parameter), and nothing else public."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import loopml
from loopml.controller import TriggerService
from loopml.controller.pipeline_runs import PipelineRunService
from loopml.deployments import DeploymentService
from loopml.monitoring.service import MonitorService
from loopml.rollouts import RolloutService
from loopml.sdk import Client, RemoteClient, fluent
from loopml.sdk.api import (
    NAMESPACES,
    LocalApprovals,
    LocalAudit,
    LocalAuth,
    LocalDatasets,
    LocalRuns,
)
from loopml.sdk.models import ModelsAPI
from loopml.sdk.remote.approvals import RemoteApprovals
from loopml.sdk.remote.audit import RemoteAudit
from loopml.sdk.remote.auth import RemoteAuth
from loopml.sdk.remote.datasets import RemoteDatasets
from loopml.sdk.remote.deployments import RemoteDeployments
from loopml.sdk.remote.monitors import RemoteMonitors
from loopml.sdk.remote.pipelines import RemotePipelines
from loopml.sdk.remote.registry import RemoteModels
from loopml.sdk.remote.rollouts import RemoteRollouts
from loopml.sdk.remote.runs import RemoteRuns
from loopml.sdk.remote.triggers import RemoteTriggers

IMPLEMENTATIONS: dict[str, tuple[type, type]] = {
    "datasets": (LocalDatasets, RemoteDatasets),
    "runs": (LocalRuns, RemoteRuns),
    "models": (ModelsAPI, RemoteModels),
    "approvals": (LocalApprovals, RemoteApprovals),
    "auth": (LocalAuth, RemoteAuth),
    "audit": (LocalAudit, RemoteAudit),
}
# The operations namespaces: their local side is the domain service itself, which keeps
# methods of its own (the controller's `due`, a test's clock), so tests/sdk/test_namespaces.py
# checks them method by method against their Protocols instead.
OPERATIONS: dict[str, tuple[type, type]] = {
    "deployments": (DeploymentService, RemoteDeployments),
    "rollouts": (RolloutService, RemoteRollouts),
    "monitors": (MonitorService, RemoteMonitors),
    "triggers": (TriggerService, RemoteTriggers),
    "pipelines": (PipelineRunService, RemotePipelines),
}
# Fluent functions and the client method each forwards to (same name unless listed).
FLUENT_TARGETS = {
    "start_run": "start_run",
    "get_run": "get_run",
    "search_runs": "search_runs",
    "log_dataset": "log_dataset",
    "get_dataset": "get_dataset",
    "load_dataset": "load_dataset",
    "diff_datasets": "diff_datasets",
    "get_historical_features": "get_historical_features",
    "training_set": "training_set",
    "get_online_features": "get_online_features",
    "active_run": "active_run",
}
# Fluent functions that work in remote mode too, so RemoteClient has the same method.
BOTH_MODES = {
    "start_run",
    "get_run",
    "search_runs",
    "log_dataset",
    "get_dataset",
    "load_dataset",
    "diff_datasets",
    "active_run",
}


def shape(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Each parameter's name, kind and default (not `self`); annotations are left out:
    an implementation may return a narrower type than its Protocol."""
    params = list(inspect.signature(function).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return [(p.name, p.kind, p.default) for p in params]


def protocol_methods(protocol: type) -> list[str]:
    return sorted(
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and callable(value)
    )


def public_methods(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if not n.startswith("_") and callable(v)}


def test_every_namespace_has_a_local_and_a_remote_implementation() -> None:
    assert set(IMPLEMENTATIONS) | set(OPERATIONS) == set(NAMESPACES)
    assert not set(IMPLEMENTATIONS) & set(OPERATIONS)


@pytest.mark.parametrize("namespace", sorted(IMPLEMENTATIONS))
def test_local_and_remote_implementations_match_the_protocol(namespace: str) -> None:
    protocol = NAMESPACES[namespace]
    local, remote = IMPLEMENTATIONS[namespace]
    methods = protocol_methods(protocol)
    assert methods, f"{protocol.__name__} declares no method"
    for name in methods:
        expected = shape(getattr(protocol, name))
        assert shape(getattr(local, name)) == expected, f"local {namespace}.{name}"
        assert shape(getattr(remote, name)) == expected, f"remote {namespace}.{name}"
    # The remote side is the namespace and nothing more; the local one may keep
    # methods older code uses (ModelsAPI.log_model, .load, .reproduce, …).
    assert public_methods(remote) == set(methods), namespace
    if local is not ModelsAPI:
        assert public_methods(local) == set(methods), namespace


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
def test_both_clients_expose_the_namespace(namespace: str, tmp_path: Any) -> None:
    """An attribute of the same name on both clients, of the listed implementation."""
    local, remote = {**IMPLEMENTATIONS, **OPERATIONS}[namespace]
    client = loopml.connect(tmp_path)
    try:
        assert isinstance(getattr(client, namespace), local)
    finally:
        client.close()
    source = inspect.getsource(RemoteClient.__init__)
    assert f"self.{namespace} = {remote.__name__}(" in source


@pytest.mark.parametrize("name", sorted(FLUENT_TARGETS))
def test_fluent_functions_have_the_client_signature(name: str) -> None:
    function = getattr(fluent, name)
    assert getattr(loopml, name) is function, f"loopml.{name} is not fluent.{name}"
    target = FLUENT_TARGETS[name]
    assert shape(function) == shape(getattr(Client, target)), name
    if name in BOTH_MODES:
        assert shape(getattr(RemoteClient, target)) == shape(getattr(Client, target)), name


@pytest.mark.parametrize("name", ["get_run", "search_runs", "start_run"])
def test_client_tracking_methods_match_the_runs_namespace(name: str) -> None:
    """`client.start_run` and `client.runs.start_run` are one API."""
    assert shape(getattr(Client, name)) == shape(getattr(NAMESPACES["runs"], name))
    assert shape(getattr(RemoteClient, name)) == shape(getattr(NAMESPACES["runs"], name))
