"""The card dict as titled sections of blocks, in reading order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loopml.errors import ValidationError
from loopml.registry.cards.blocks import (
    EMPTY,
    NOT_PROVIDED,
    Block,
    Bullets,
    CardLayout,
    Facts,
    Heading,
    Section,
    Table,
    Text,
    mapping,
    records,
    slug,
    time_text,
    user_text,
    value_text,
)
from loopml.registry.cards.fairness_section import fairness_blocks
from loopml.registry.cards.limitations import derive_limitations

MAX_PROFILE_COLUMNS = 60
"""Profile rows shown per dataset; a wider table is cut with a note."""


def build_layout(card: Mapping[str, Any]) -> CardLayout:
    """Title and sections of a card dict (see the package docstring for its keys)."""
    if not isinstance(card, Mapping):
        raise ValidationError(f"a model card is a dict, got {type(card).__name__}")
    model = mapping(card, "model")
    name, version = model.get("name"), model.get("version")
    title = f"Model card: {value_text(name, 'unnamed model')}"
    if version is not None:
        title += f" v{value_text(version)}"
    builders: list[tuple[str, Callable[[Mapping[str, Any]], list[Block]]]] = [
        ("Model details", _details),
        ("Overview", _overview),
        ("Metrics", _metrics),
        ("Evaluations", _evaluations),
        ("Training data", _training_data),
        ("Fairness", lambda c: fairness_blocks(mapping(c, "fairness"))),
        ("Lineage", _lineage),
        ("Approvals", _approvals),
        ("Limitations", _limitations),
    ]
    sections = tuple(Section(t, slug(t), tuple(build(card))) for t, build in builders)
    return CardLayout(title, sections)


def _details(card: Mapping[str, Any]) -> list[Block]:
    model = mapping(card, "model")
    aliases = model.get("aliases")
    items = (
        ("Name", user_text(model.get("name"))),
        ("Version", user_text(model.get("version"))),
        ("URI", user_text(model.get("uri"))),
        ("Flavor", user_text(model.get("flavor"))),
        ("Created by", user_text(model.get("created_by"))),
        ("Created at", time_text(model.get("created_at"))),
        ("State", user_text(model.get("state"))),
        ("Aliases", "none" if aliases == [] else user_text(aliases)),
    )
    return [Facts(items)]


def _overview(card: Mapping[str, Any]) -> list[Block]:
    overview = mapping(card, "overview")
    blocks: list[Block] = []
    for key, label in (
        ("description", "Description"),
        ("intended_use", "Intended use"),
        ("out_of_scope", "Out of scope"),
    ):
        blocks += [Heading(label), Text(user_text(overview.get(key)))]
    blocks.append(Facts((("Owners", user_text(overview.get("owners"))),)))
    return blocks


def _metrics(card: Mapping[str, Any]) -> list[Block]:
    metrics = mapping(card, "metrics")
    if not metrics:
        return [Text("No metrics recorded.")]
    return [Table(("metric", "value"), tuple((str(k), value_text(v)) for k, v in metrics.items()))]


def _evaluations(card: Mapping[str, Any]) -> list[Block]:
    evaluations = records(card, "evaluations")
    if not evaluations:
        return [Text("No evaluation on a separate dataset recorded.")]
    names = list(dict.fromkeys(k for e in evaluations for k in mapping(e, "metrics")))
    rows = tuple(
        (
            value_text(e.get("dataset"), NOT_PROVIDED),
            *(value_text(mapping(e, "metrics").get(n)) for n in names),
        )
        for e in evaluations
    )
    return [Table(("dataset", *names), rows)]


def _training_data(card: Mapping[str, Any]) -> list[Block]:
    datasets = records(card, "training_data")
    if not datasets:
        return [Text("No training dataset recorded.")]
    blocks: list[Block] = []
    for data in datasets:
        blocks.append(Heading(value_text(data.get("uri"), "dataset (uri not provided)")))
        facts = [(k.capitalize(), value_text(data.get(k), NOT_PROVIDED)) for k in ("role", "rows")]
        facts.append(("Columns", value_text(data.get("columns"), NOT_PROVIDED)))
        if data.get("time_column"):
            facts.append(("Time column", value_text(data["time_column"])))
        blocks.append(Facts(tuple(facts)))
        blocks.append(_profile_table(mapping(data, "profile")))
    return blocks


def _profile_table(profile: Mapping[str, Any]) -> Block:
    if not profile:
        return Text("No column profile recorded.")
    headers = ("column", "kind", "nulls", "min", "max", "mean", "std", "median", "top values")
    rows = []
    for column, stats in list(profile.items())[:MAX_PROFILE_COLUMNS]:
        stats = stats if isinstance(stats, Mapping) else {}
        nulls = value_text(stats.get("nulls"))
        if isinstance(stats.get("null_fraction"), float) and stats["null_fraction"] > 0:
            nulls += f" ({stats['null_fraction']:.1%})"
        quantiles = stats.get("quantiles")
        median = quantiles.get("0.5") if isinstance(quantiles, Mapping) else None
        top = records(stats, "top")[:3]
        rows.append(
            (
                str(column),
                value_text(stats.get("kind")),
                nulls,
                *(_bound(stats, k) for k in ("min", "max")),
                *(value_text(stats.get(k)) for k in ("mean", "std")),
                value_text(median),
                ", ".join(f"{t.get('value')} ({value_text(t.get('count'))})" for t in top) or EMPTY,
            )
        )
    cut = len(profile) - MAX_PROFILE_COLUMNS
    note = f"{cut} more columns not shown." if cut > 0 else ""
    return Table(headers, tuple(rows), note)


def _bound(stats: Mapping[str, Any], key: str) -> str:
    """A column's min or max; temporal ones as date and time."""
    if stats.get("kind") == "temporal":
        return time_text(stats.get(key), EMPTY)
    return value_text(stats.get(key))


def _lineage(card: Mapping[str, Any]) -> list[Block]:
    lineage = mapping(card, "lineage")
    commit = lineage.get("git_commit")
    packages = lineage.get("packages")
    if isinstance(packages, list | tuple):
        packages = len(packages)
    items = (
        ("Run", user_text(lineage.get("run"))),
        ("Experiment", user_text(lineage.get("experiment"))),
        ("Git commit", user_text(commit)),
        ("Uncommitted changes", value_text(lineage.get("dirty"), NOT_PROVIDED)),
        ("Python", user_text(lineage.get("python"))),
        ("Packages installed", value_text(packages, NOT_PROVIDED)),
        ("Input datasets", user_text(lineage.get("datasets"))),
    )
    return [Facts(items)]


def _approvals(card: Mapping[str, Any]) -> list[Block]:
    requests = records(card, "approvals")
    if not requests:
        return [Text("No approval requests.")]
    blocks: list[Block] = []
    for request in requests:
        alias, status = value_text(request.get("alias")), value_text(request.get("status"))
        blocks.append(Heading(f"{value_text(request.get('id'))}: alias {alias}, {status}"))
        facts = [("Requester", user_text(request.get("requester")))]
        if request.get("reason"):
            facts.append(("Reason", value_text(request["reason"])))
        if request.get("outcome"):
            facts.append(("Outcome", value_text(request["outcome"])))
        blocks.append(Facts(tuple(facts)))
        decisions = tuple(
            (
                value_text(d.get("principal")),
                value_text(d.get("decision")),
                value_text(d.get("comment")),
                time_text(d.get("at")),
            )
            for d in records(request, "decisions")
        )
        blocks.append(
            Table(("principal", "decision", "comment", "at"), decisions)
            if decisions
            else Text("No decisions yet.")
        )
        checks = tuple(
            (value_text(c.get("name")), _verdict(c.get("passed")), value_text(c.get("message")))
            for c in records(request, "checks")
        )
        if checks:
            blocks.append(Table(("check", "result", "message"), checks))
    return blocks


def _verdict(passed: Any) -> str:
    return "pass" if passed is True else "FAIL" if passed is False else EMPTY


def _limitations(card: Mapping[str, Any]) -> list[Block]:
    stated = card.get("limitations") or []
    if isinstance(stated, str):
        stated = [stated]
    blocks: list[Block] = [Heading("Stated by the owners")]
    items = tuple(str(s) for s in stated if str(s).strip())
    blocks.append(Bullets(items) if items else Text(NOT_PROVIDED))
    blocks.append(Heading("Derived from the recorded facts"))
    derived = tuple(derive_limitations(card))
    blocks.append(Bullets(derived) if derived else Text("None found."))
    return blocks
