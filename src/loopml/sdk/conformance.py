"""Both modes' operations namespaces satisfy their Protocols (`loopml.sdk.api`).

Nothing here runs: mypy checks these assignments, so a local service or a remote
namespace that drifts from its Protocol (a renamed argument, a changed default, another
return type) fails the type check; tests/sdk/test_namespaces.py compares the signatures at
run time as well.
"""

from __future__ import annotations

from loopml.sdk.api.deployments import DeploymentsAPI
from loopml.sdk.api.monitors import MonitorsAPI
from loopml.sdk.api.pipelines import PipelinesAPI
from loopml.sdk.api.rollouts import RolloutsAPI
from loopml.sdk.api.triggers import TriggersAPI
from loopml.sdk.client import Client
from loopml.sdk.remote import RemoteClient


def operations_of(
    client: Client | RemoteClient,
) -> tuple[DeploymentsAPI, RolloutsAPI, MonitorsAPI, TriggersAPI, PipelinesAPI]:
    """The operations namespaces of either client, typed by their Protocols."""
    return (
        client.deployments,
        client.rollouts,
        client.monitors,
        client.triggers,
        client.pipelines,
    )
