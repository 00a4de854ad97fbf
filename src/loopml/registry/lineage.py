"""Lineage: from a model version back to its run, the run's data, code and environment."""

from __future__ import annotations

from typing import Any

from loopml.data import DatasetService
from loopml.errors import NotFoundError
from loopml.registry.records import ModelVersion
from loopml.registry.service import RegistryService
from loopml.tracking import TrackingService


def lineage(
    registry: RegistryService,
    tracking: TrackingService,
    datasets: DatasetService,
    ref: str | ModelVersion,
) -> dict[str, Any]:
    """The chain version → run → input dataset versions (with their parents), code, env."""
    version = registry.get_version(ref)
    chain: dict[str, Any] = {
        "model": {
            "uri": version.uri,
            "flavor": version.flavor,
            "state": version.state,
            "aliases": version.aliases,
            "created_by": version.created_by,
            "created_at": version.created_at,
            "manifest": version.manifest_digest,
        },
        "run": None,
        "datasets": [],
        "code": None,
        "environment": None,
    }
    if version.run_id is None:
        return chain
    run = tracking.get_run(version.run_id)
    chain["run"] = {
        "uri": run.uri,
        "experiment": run.experiment,
        "name": run.name,
        "status": run.status,
        "params": run.params,
        "metrics": run.metrics,
        "parent": run.parent_id,
        "created_by": run.created_by,
    }
    chain["code"] = {
        "git_commit": run.git_commit,
        "dirty": run.git_dirty,
        "diff_digest": run.git_diff_digest,
    }
    chain["environment"] = run.environment
    for item in run.inputs:
        ancestors: list[str] = []
        try:
            current = datasets.get(item["id"])
            node = {
                "uri": current.uri,
                "role": item["role"],
                "rows": current.row_count,
                "content_hash": current.content_hash,
                "parents": ancestors,
                "time_column": current.time_column,
            }
            while current.parent_id is not None and len(ancestors) < 50:
                current = datasets.get(current.parent_id)
                ancestors.append(current.uri)
        except NotFoundError:
            node = {"uri": item["dataset"], "role": item["role"], "missing": True}
        chain["datasets"].append(node)
    return chain


def format_lineage(chain: dict[str, Any]) -> list[str]:
    """The chain as indented lines for a terminal."""
    model = chain["model"]
    aliases = f" [{', '.join(model['aliases'])}]" if model["aliases"] else ""
    lines = [f"{model['uri']}{aliases}  ({model['flavor']}, {model['state']})"]
    run = chain["run"]
    if run is None:
        return [*lines, "└─ no run recorded"]
    lines.append(
        f"└─ {run['uri']}  experiment {run['experiment']!r}, {run['status']}, "
        f"by {run['created_by']}"
    )
    code = chain["code"] or {}
    commit = code.get("git_commit")
    lines.append(
        "   ├─ code: "
        + (
            f"git {commit[:12]}"
            + (
                f" + uncommitted diff {(code.get('diff_digest') or '')[:12]}"
                if code.get("dirty")
                else " (clean)"
            )
            if commit
            else "not in a git repository"
        )
    )
    env = chain["environment"] or {}
    if env:
        lines.append(
            f"   ├─ environment: Python {env.get('python')}, {env.get('packages')} "
            f"packages ({str(env.get('packages_digest', ''))[:12]})"
        )
    datasets = chain["datasets"]
    if not datasets:
        lines.append("   └─ data: no input dataset recorded")
    for i, node in enumerate(datasets):
        branch = "└─" if i == len(datasets) - 1 else "├─"
        if node.get("missing"):
            lines.append(f"   {branch} data ({node['role']}): {node['uri']} (missing)")
            continue
        parents = " ← ".join(node["parents"])
        lines.append(
            f"   {branch} data ({node['role']}): {node['uri']}, {node['rows']:,} rows, "
            f"hash {node['content_hash'][:12]}" + (f" ← {parents}" if parents else "")
        )
    return lines
