"""Each operations namespace has one Protocol, and the local service and the remote
namespace both offer every one of its methods with the same signature (mypy checks the
same through `loopml.sdk.conformance`)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from loopml.controller import TriggerService
from loopml.controller.pipeline_runs import PipelineRunService
from loopml.deployments import DeploymentService
from loopml.deployments.tokens import DeploymentTokenService
from loopml.governance.traffic_policy import TrafficPolicyService
from loopml.monitoring.alerts import AlertService
from loopml.monitoring.service import MonitorService
from loopml.rollouts import RolloutService
from loopml.sdk.api.deployments import DeploymentsAPI, DeploymentTokensAPI, TrafficPolicyAPI
from loopml.sdk.api.monitors import AlertsAPI, MonitorsAPI
from loopml.sdk.api.pipelines import PipelinesAPI
from loopml.sdk.api.rollouts import RolloutsAPI
from loopml.sdk.api.triggers import TriggersAPI
from loopml.sdk.remote.deployments import (
    RemoteDeployments,
    RemoteDeploymentTokens,
    RemoteTrafficPolicy,
)
from loopml.sdk.remote.monitors import RemoteAlerts, RemoteMonitors
from loopml.sdk.remote.pipelines import RemotePipelines
from loopml.sdk.remote.rollouts import RemoteRollouts
from loopml.sdk.remote.triggers import RemoteTriggers

NAMESPACES = [
    (DeploymentsAPI, DeploymentService, RemoteDeployments),
    (TrafficPolicyAPI, TrafficPolicyService, RemoteTrafficPolicy),
    (DeploymentTokensAPI, DeploymentTokenService, RemoteDeploymentTokens),
    (RolloutsAPI, RolloutService, RemoteRollouts),
    (MonitorsAPI, MonitorService, RemoteMonitors),
    (AlertsAPI, AlertService, RemoteAlerts),
    (TriggersAPI, TriggerService, RemoteTriggers),
    (PipelinesAPI, PipelineRunService, RemotePipelines),
]
# Local-only keyword arguments the Protocols leave out: a test's clock.
LOCAL_EXTRAS = {"now"}


def _methods(protocol: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in vars(protocol).items()
        if not name.startswith("_") and callable(member)
    }


def _parameters(function: Any) -> list[tuple[str, Any, Any]]:
    found = inspect.signature(function).parameters.values()
    return [(p.name, p.kind, p.default) for p in found if p.name not in LOCAL_EXTRAS]


@pytest.mark.parametrize(
    ("protocol", "local", "remote"), NAMESPACES, ids=[p.__name__ for p, _, _ in NAMESPACES]
)
def test_both_modes_offer_the_protocol_with_its_signatures(
    protocol: type, local: type, remote: type
) -> None:
    methods = _methods(protocol)
    assert methods, f"{protocol.__name__} declares no methods"
    for name, declared in methods.items():
        wanted = _parameters(declared)
        for implementation in (local, remote):
            offered = getattr(implementation, name, None)
            assert offered is not None, f"{implementation.__name__} lacks {name}"
            got = _parameters(offered)
            if name == "create" and protocol is MonitorsAPI:  # `rules=()` vs the stub's `...`
                got = [(n, k, ... if n in ("rules", "sinks") else d) for n, k, d in got]
            assert got == wanted, f"{implementation.__name__}.{name}"
    properties = [n for n, m in vars(protocol).items() if isinstance(m, property)]
    for name in properties:
        assert hasattr(remote(None), name), f"{remote.__name__} lacks .{name}"
