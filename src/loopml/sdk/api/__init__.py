"""The SDK's namespaces: one small Protocol each, with a local implementation (over the
workspace's services) and a remote one (over `loopml server`), reached as attributes of
the same name on `Client` and `RemoteClient` (`client.datasets`, `client.models`, …)."""

from loopml.sdk.api.approvals import Approvals, LocalApprovals
from loopml.sdk.api.audit import Audit, LocalAudit
from loopml.sdk.api.auth import Auth, IssuedToken, LocalAuth
from loopml.sdk.api.datasets import Datasets, LocalDatasets
from loopml.sdk.api.models import Models
from loopml.sdk.api.runs import LocalRuns, Runs

#: Namespace attribute → its Protocol; both clients expose every one of them.
NAMESPACES: dict[str, type] = {
    "datasets": Datasets,
    "runs": Runs,
    "models": Models,
    "approvals": Approvals,
    "auth": Auth,
    "audit": Audit,
}

__all__ = [
    "NAMESPACES",
    "Approvals",
    "Audit",
    "Auth",
    "Datasets",
    "IssuedToken",
    "LocalApprovals",
    "LocalAudit",
    "LocalAuth",
    "LocalDatasets",
    "LocalRuns",
    "Models",
    "Runs",
]
