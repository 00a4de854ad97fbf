"""The SDK's namespaces: one small Protocol each, with a local implementation (over the
workspace's services) and a remote one (over `loopml server`), reached as attributes of
the same name on `Client` and `RemoteClient` (`client.datasets`, `client.models`, …)."""

from loopml.sdk.api.approvals import Approvals, LocalApprovals
from loopml.sdk.api.audit import Audit, LocalAudit
from loopml.sdk.api.auth import Auth, IssuedToken, LocalAuth
from loopml.sdk.api.datasets import Datasets, LocalDatasets
from loopml.sdk.api.deployments import DeploymentsAPI
from loopml.sdk.api.models import Models
from loopml.sdk.api.monitors import MonitorsAPI
from loopml.sdk.api.pipelines import PipelinesAPI
from loopml.sdk.api.rollouts import RolloutsAPI
from loopml.sdk.api.runs import LocalRuns, Runs
from loopml.sdk.api.triggers import TriggersAPI

#: Namespace attribute → its Protocol; both clients expose every one of them.
NAMESPACES: dict[str, type] = {
    "datasets": Datasets,
    "runs": Runs,
    "models": Models,
    "approvals": Approvals,
    "auth": Auth,
    "audit": Audit,
    "deployments": DeploymentsAPI,
    "rollouts": RolloutsAPI,
    "monitors": MonitorsAPI,
    "triggers": TriggersAPI,
    "pipelines": PipelinesAPI,
}

__all__ = [
    "NAMESPACES",
    "Approvals",
    "Audit",
    "Auth",
    "Datasets",
    "DeploymentsAPI",
    "IssuedToken",
    "LocalApprovals",
    "LocalAudit",
    "LocalAuth",
    "LocalDatasets",
    "LocalRuns",
    "Models",
    "MonitorsAPI",
    "PipelinesAPI",
    "RolloutsAPI",
    "Runs",
    "TriggersAPI",
]
