"""Markdown tables comparing loopml with its peers from JSON lines kept by bench/run_all.sh.

    .venv/bin/python bench/compare.py [FOLDER ...] [--max-others 15]

Each FOLDER (default /tmp/benchresults) holds mlflow_a.json, mlflow_bc.json,
loopml_tracking.json, dvc.json and loopml_artifacts.json (the last stdout line of each
benchmark). Every figure is the median over the repetitions of all the folders given
during which other processes kept the machine at most --max-others % busy
(`others_busy_pct`, as the peers' summarize scripts do; 100 keeps everything); `n` tells
how many repetitions were kept out of how many. Only compare folders of one session, or
of sessions of the same code on the same machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Rep = dict[str, Any]
Getter = Callable[[Rep], Any]


@dataclass(frozen=True)
class Source:
    """Where one figure's repetitions are: file, path to the list, value, noise."""

    file: str
    reps_path: tuple[str, ...]
    value: Getter
    noise: Getter


@dataclass(frozen=True)
class Figure:
    name: str
    peer: Source | None
    ours: Source | None
    unit: str  # "s", "/s" or "MiB"
    higher_is_better: bool
    target: float | None = None  # ratio to reach


def dig(data: Any, *keys: str | int) -> Any:
    for key in keys:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    if not path.is_file() or not path.read_text().strip():
        return None
    data: dict[str, Any] = json.loads(path.read_text().strip().splitlines()[-1])
    return data


@dataclass
class Kept:
    median: float | None
    kept: int
    total: int

    def n(self) -> str:
        return f"{self.kept}/{self.total}"


def collect(folders: list[Path], source: Source | None, max_others: float) -> Kept:
    if source is None:
        return Kept(None, 0, 0)
    values, total = [], 0
    for folder in folders:
        reps = dig(load(folder, source.file), *source.reps_path) or []
        for rep in reps:
            value = source.value(rep)
            if value is None:
                continue
            total += 1
            noise = source.noise(rep)
            if noise is None or noise <= max_others:
                values.append(float(value))
    return Kept(statistics.median(values) if values else None, len(values), total)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "/s":
        return f"{value:,.0f} /s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    if value < 0.1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.3g} s"


def table(title: str, peer_name: str, figures: list[Figure], args: argparse.Namespace) -> str:
    lines = [
        f"### {title}",
        "",
        f"| figure | {peer_name} (n) | loopml (n) | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for fig in figures:
        peer = collect(args.folders, fig.peer, args.max_others)
        ours = collect(args.folders, fig.ours, args.max_others)
        ratio = None
        if peer.median and ours.median:
            ratio = ours.median / peer.median if fig.higher_is_better else peer.median / ours.median
        met = ""
        if fig.target is not None and ratio is not None:
            met = "yes" if ratio >= fig.target else "**no**"
        lines.append(
            f"| {fig.name} | {fmt(peer.median, fig.unit)} ({peer.n()}) | "
            f"{fmt(ours.median, fig.unit)} ({ours.n()}) | "
            f"{'—' if ratio is None else f'{ratio:,.1f}x'} | "
            f"{'' if fig.target is None else f'≥ {fig.target:g}x'} | {met} |"
        )
    return "\n".join(lines)


def mlflow(part: str, value: Getter, noise: Getter) -> Source:
    file = "mlflow_a" if part == "a" else "mlflow_bc"
    return Source(file, ("results", part, "reps"), value, noise)


def ours_t(part: str, value: Getter, noise: Getter) -> Source:
    return Source("loopml_tracking", ("results", part, "reps"), value, noise)


def tracking_figures() -> list[Figure]:
    a_noise: Getter = lambda r: dig(r, "metrics_phase", "others_busy_pct")  # noqa: E731
    b_noise: Getter = lambda r: dig(r, "phase", "others_busy_pct")  # noqa: E731
    c_noise: Getter = lambda r: dig(r, "create_phase", "others_busy_pct")  # noqa: E731

    def both(part: str, value: Getter, noise: Getter) -> tuple[Source, Source]:
        return mlflow(part, value, noise), ours_t(part, value, noise)

    return [
        Figure("(a) 10,000 `log_metric` calls, points/s",
               *both("a", lambda r: r["points_per_s"], a_noise), "/s", True, 200),
        Figure("(a) 10,000 `log_metric` calls, until stored",
               *both("a", lambda r: r["metrics_s"], a_noise), "s", False),
        Figure("(a) 20 `log_param` calls", *both("a", lambda r: r["params_20_s"], a_noise),
               "s", False),
        Figure("(b) 10,000 points, `log_batch` x 1,000, points/s",
               *both("b", lambda r: r["points_per_s"], b_noise), "/s", True, 10),
        Figure("(c) create 1,000 runs (5 params + 5 metrics each)",
               *both("c", lambda r: r["create_1000_runs_s_est"], c_noise), "s", False, 20),
        Figure("(c) filtered `search_runs` (median of 5)",
               *both("c", lambda r: r["search_client_s"]["median"], c_noise), "s", False, 10),
        Figure("(c) same search as a pandas DataFrame",
               *both("c", lambda r: r["search_pandas_s"]["median"], c_noise), "s", False),
        Figure("(c) unfiltered search, 1,000 runs",
               *both("c", lambda r: r["search_all_runs_s"]["median"], c_noise), "s", False),
    ]  # fmt: skip


def artifact_figures() -> list[Figure]:
    dvc_runs = ("results", "dvc", "runs")
    d_noise: Getter = lambda r: r.get("others_busy_pct")  # noqa: E731

    def dvc(key: str) -> Source:
        return Source("dvc", dvc_runs, lambda r: r.get(key), d_noise)

    def ours(value: Getter, noise: Getter = d_noise) -> Source:
        return Source("loopml_artifacts", ("reps",), value, noise)

    again_noise: Getter = lambda r: dig(r, "children", "again", "put_again", "others_busy_pct")  # noqa: E731
    fsync_noise: Getter = lambda r: dig(r, "children", "fsync", "put", "others_busy_pct")  # noqa: E731
    return [
        Figure("store 1 GiB: `dvc add` / `put_file` call", dvc("dvc_add_s"),
               ours(lambda r: r["store_1gib_s"]), "s", False, 3),
        Figure("store 1 GiB: whole process (start, import, put)", dvc("dvc_add_s"),
               ours(lambda r: r["child_wall_s"]), "s", False),
        Figure("store the same file again (dedupe)", dvc("dvc_add_again_s"),
               ours(lambda r: r["put_again_s"], again_noise), "s", False),
        Figure("dirty pages flushed afterwards (`sync`)", dvc("sync_after_s"),
               ours(lambda r: r["sync_after_s"]), "s", False),
        Figure("peak RSS of the storing process", dvc("dvc_add_peak_rss_mib"),
               ours(lambda r: r["peak_rss_mib"]), "MiB", False),
        Figure("store 1 GiB with fsync (durable on return)", None,
               ours(lambda r: r.get("store_1gib_fsync_s"), fsync_noise), "s", False),
        Figure("verified read (`local_path`, hashes the blob)", None,
               ours(lambda r: r["verified_read_s"], lambda r: None), "s", False),
    ]  # fmt: skip


def noise_table(folders: list[Path]) -> str:
    lines = [
        "| folder | invocation | load average start → end | machine busy % | wall s |",
        "|---|---|---|---|---|",
    ]
    for folder in folders:
        for name in ("mlflow_a", "mlflow_bc", "loopml_tracking", "dvc", "loopml_artifacts"):
            data = load(folder, name)
            if data is None:
                continue
            noise = data.get("noise", {})
            lines.append(
                f"| {folder.name} | {name} | {noise.get('loadavg_start')} → "
                f"{noise.get('loadavg_end')} | {noise.get('machine_busy_pct_whole_run')} | "
                f"{data.get('total_wall_s')} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("folders", nargs="*", type=Path, default=[Path("/tmp/benchresults")])
    ap.add_argument("--max-others", type=float, default=15.0)
    args = ap.parse_args()
    print(f"Repetitions kept: others_busy_pct ≤ {args.max_others:g} %.\n")
    print(table("Tracking (W1), SQLite, in-process client", "MLflow", tracking_figures(), args))
    print()
    print(table("Artifacts (W5), 1 GiB random file in page cache", "DVC", artifact_figures(), args))
    peak = collect(args.folders, artifact_figures()[4].ours, 100.0).median
    if peak is not None:
        verdict = "met" if peak < 100 else "**not met**"
        print(f"\nPeak RSS target < 100 MiB: {peak:.0f} MiB, {verdict}.")
    for folder in args.folders:
        hashes = dig(load(folder, "loopml_artifacts"), "hash", "summary")
        if hashes:
            print(f"\n| hash, {folder.name} | GB/s (median) |\n|---|---|")
            for name, entry in hashes.items():
                print(f"| {name} | {dig(entry, 'gb_per_s', 'median')} |")
    print()
    print(noise_table(args.folders))


if __name__ == "__main__":
    main()
