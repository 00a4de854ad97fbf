"""Tables and JSON for registered models, versions, approval requests, policies and
evaluations."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from loopml.cli.render import NONE, key_value_table, short_hash, value, when
from loopml.registry import ApprovalRequest, ModelVersion, Policy, RegisteredModel

KEY_METRICS = 3
REQUEST_STYLES = {"PENDING": "yellow", "APPROVED": "green", "REJECTED": "red"}
STATE_STYLES = {"REGISTERED": "green", "DEPRECATED": "yellow", "ARCHIVED": "dim"}


def run_uri(run_id: str | None) -> str | None:
    """`run-3f9c2a1b` → `run:3f9c2a1b`, the form `loopml runs show` prints."""
    return None if run_id is None else "run:" + run_id.removeprefix("run-")


def state(name: str) -> Text:
    return Text(name, style=STATE_STYLES.get(name, ""))


def request_status(name: str) -> Text:
    return Text(name, style=REQUEST_STYLES.get(name, ""))


def passed(ok: bool) -> Text:
    return Text("pass", style="green") if ok else Text("FAIL", style="bold red")


def model_dict(model: RegisteredModel) -> dict[str, Any]:
    return {"uri": model.uri, **dataclasses.asdict(model)}


def aliases_text(aliases: Mapping[str, int]) -> str:
    """`{"champion": 3}` → `champion → v3`, sorted by alias."""
    return ", ".join(f"{a} → v{v}" for a, v in sorted(aliases.items())) or NONE


def model_table(models: Sequence[RegisteredModel]) -> Table:
    table = Table("model")
    table.add_column("latest", justify="right")
    for header in ("aliases", "protected", "policy", "created", "description"):
        table.add_column(header)
    for m in models:
        table.add_row(
            m.uri,
            NONE if m.latest_version is None else f"v{m.latest_version}",
            aliases_text(m.aliases),
            ", ".join(m.protected_aliases) or NONE,
            "custom" if m.policy else "default",
            when(m.created_at, seconds=False),
            m.description or NONE,
        )
    return table


def metric_keys(versions: Sequence[ModelVersion], limit: int = KEY_METRICS) -> list[str]:
    """The `limit` metrics most versions recorded, ties by name."""
    counts: Counter[str] = Counter(k for v in versions for k in v.metrics)
    return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def version_table(model: RegisteredModel, versions: Sequence[ModelVersion]) -> Table:
    keys = metric_keys(versions)
    table = Table("version", "state", "aliases", "flavor", "run", title=model.uri)
    table.title_justify = "left"
    for key in keys:
        table.add_column(key, justify="right")
    table.add_column("created")
    for v in versions:
        table.add_row(
            v.uri,
            state(v.state),
            ", ".join(v.aliases) or NONE,
            v.flavor,
            run_uri(v.run_id) or NONE,
            *(value(v.metrics.get(k)) for k in keys),
            when(v.created_at, seconds=False),
        )
    return table


def version_info(version: ModelVersion) -> Table:
    return key_value_table(
        version.uri,
        [
            ("id", version.id),
            ("state", state(version.state)),
            ("aliases", ", ".join(version.aliases) or NONE),
            ("flavor", version.flavor),
            ("run", run_uri(version.run_id)),
            ("artifact path", version.artifact_path),
            ("manifest", short_hash(version.manifest_digest)),
            ("description", version.description),
            ("created", f"{when(version.created_at)} by {version.created_by}"),
        ],
    )


def signature(version: ModelVersion) -> RenderableType:
    sig = version.signature
    if not sig or not sig.get("inputs"):
        return Text("signature: none recorded (log the model with an input_example)", style="dim")
    table = Table("column", "type", "nullable", "categories", title="signature (inputs)")
    table.title_justify = "left"
    for column in sig["inputs"]:
        categories = column.get("categories")
        table.add_row(
            column["name"],
            column["type"],
            "yes" if column.get("nullable") else "no",
            ", ".join(categories) if categories else NONE,
        )
    outputs = sig.get("outputs") or []
    if outputs:
        table.caption = "outputs: " + ", ".join(f"{o['name']} ({o['type']})" for o in outputs)
        table.caption_justify = "left"
    return table


def pairs(title: str, items: Mapping[str, Any], header: str = "metric") -> Table:
    table = Table(header, "value", title=title, title_justify="left")
    for key in sorted(items):
        table.add_row(key, value(items[key]))
    return table


def evaluations(items: Sequence[Mapping[str, Any]]) -> RenderableType:
    """Stored evaluations: one row per dataset, one column per metric."""
    if not items:
        return Text("evaluations: none yet (loopml models evaluate)", style="dim")
    keys = list(dict.fromkeys(k for item in items for k in item["metrics"]))
    table = Table("dataset", title="evaluations", title_justify="left")
    for key in keys:
        table.add_column(key, justify="right")
    for item in items:
        table.add_row(item["dataset"], *(value(item["metrics"].get(k)) for k in keys))
    return table


def version_details(
    version: ModelVersion, stored: Sequence[Mapping[str, Any]]
) -> list[RenderableType]:
    metrics: RenderableType = (
        pairs("metrics", version.metrics) if version.metrics else Text("metrics: none", style="dim")
    )
    return [signature(version), metrics, evaluations(stored)]


# ---------------------------------------------------------------------- approvals
def checks_table(checks: Sequence[Mapping[str, Any]]) -> RenderableType:
    if not checks:
        return Text("checks: none (the policy asks for no automatic check)", style="dim")
    table = Table("check", "result", "message", title="automatic checks", title_justify="left")
    for check in checks:
        table.add_row(check["name"], passed(bool(check.get("passed"))), check.get("message") or "")
    return table


def approvals_progress(request: ApprovalRequest) -> str:
    needed = int(request.policy.get("required_approvals", 1))
    return f"{request.approvals} of {needed}"


def request_info(request: ApprovalRequest) -> Table:
    previous = NONE if request.previous_version is None else f"v{request.previous_version}"
    return key_value_table(
        None,
        [
            ("request", request.id),
            ("status", request_status(request.status)),
            ("move", f"{request.model}@{request.alias}: {previous} → v{request.version}"),
            ("requester", request.requester),
            ("reason", request.reason),  # the requester's; `outcome` says why it closed
            ("outcome", request.outcome),
            ("approvals", approvals_progress(request)),
            ("opened", when(request.created_at)),
            ("decided", when(request.decided_at)),
        ],
    )


def decisions_table(request: ApprovalRequest) -> RenderableType | None:
    if not request.decisions:
        return None
    table = Table("principal", "decision", "comment", "at", title="decisions")
    table.title_justify = "left"
    for d in request.decisions:
        style = "green" if d.decision == "APPROVE" else "red"
        table.add_row(
            d.principal, Text(d.decision, style=style), d.comment or NONE, when(d.decided_at)
        )
    return table


def request_details(request: ApprovalRequest) -> list[RenderableType]:
    parts: list[RenderableType] = [request_info(request), checks_table(request.checks)]
    decisions = decisions_table(request)
    if decisions is not None:
        parts.append(decisions)
    return parts


def request_table(requests: Sequence[ApprovalRequest]) -> Table:
    table = Table("request", "model", "alias", "move", "requester", "status")
    for header in ("checks", "approvals"):
        table.add_column(header, justify="right")
    table.add_column("opened")
    for r in requests:
        previous = NONE if r.previous_version is None else f"v{r.previous_version}"
        ok = sum(1 for c in r.checks if c.get("passed"))
        table.add_row(
            r.id,
            r.model,
            r.alias,
            f"{previous} → v{r.version}",
            r.requester,
            request_status(r.status),
            f"{ok}/{len(r.checks)}" if r.checks else NONE,
            approvals_progress(r),
            when(r.created_at, seconds=False),
        )
    return table


def request_dict(request: ApprovalRequest) -> dict[str, Any]:
    return {**request.to_dict(), "approvals": request.approvals}


# ---------------------------------------------------------------------- policies
def _no_regression(policy: Policy) -> str:
    rule = policy.no_regression
    if rule is None:
        return NONE
    return f"{rule.metric} on {rule.dataset} (target {rule.target}, margin {rule.margin:g})"


def _fairness(policy: Policy) -> str:
    rule = policy.fairness
    if rule is None:
        return NONE
    limits = ", ".join(
        f"{key} {'≥' if key.split('[')[0].endswith('_ratio') else '≤'} {limit:g}"
        for key, limit in rule.limits.items()
    )
    return f"{limits} on {rule.dataset} by {', '.join(rule.sensitive)} (target {rule.target})"


def policy_table(model: RegisteredModel, policy: Policy) -> Table:
    four_eyes = "yes: requesters never decide their own request" if policy.four_eyes else "no"
    auto = "yes: requests whose checks pass are approved" if policy.auto_approve else "no"
    thresholds = "; ".join(f"{t.metric} {t.op} {t.value:g}" for t in policy.thresholds)
    origin = "custom" if model.policy else "the default"
    return key_value_table(
        f"approval policy of {model.uri} ({origin})",
        [
            ("protected aliases", ", ".join(model.protected_aliases) or NONE),
            ("required approvals", policy.required_approvals),
            ("approver role", f"{policy.approver_role} or higher"),
            ("four eyes", four_eyes),
            ("auto approve", auto),
            ("thresholds", thresholds or NONE),
            ("no regression", _no_regression(policy)),
            ("fairness", _fairness(policy)),
        ],
    )


# ---------------------------------------------------------------------- evaluations
def evaluation_header(ref: str, result: Mapping[str, Any]) -> Text:
    return Text.assemble(
        (ref, "bold"),
        " on ",
        (result["dataset"], "bold"),
        f"  ({result['task']}, {result['rows']:,} rows, target {result['target']})",
    )


def fairness_parts(report: Mapping[str, Any]) -> list[RenderableType]:
    """Disparities per sensitive column, then the metrics of every group."""
    disparities = Table("column", "disparity", "value", title="fairness: disparities")
    disparities.title_justify = "left"
    disparities.columns[2].justify = "right"
    for column, items in report["disparities"].items():
        for metric, item in items.items():
            disparities.add_row(column, metric, value(item))
    keys = list(
        dict.fromkeys(k for c in report["per_group"].values() for g in c.values() for k in g)
    )
    groups = Table("column", "group", title="fairness: per group", title_justify="left")
    for key in keys:
        groups.add_column(key, justify="right")
    for column, by_group in report["per_group"].items():
        for group, metrics in by_group.items():
            groups.add_row(column, str(group), *(value(metrics.get(k)) for k in keys))
    parts: list[RenderableType] = [disparities, groups]
    warnings = report.get("warnings") or []
    if warnings:
        parts.append(Text("\n".join(f"warning: {w}" for w in warnings), style="yellow"))
    return parts
