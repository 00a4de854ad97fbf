"""A Markdown table of loopml's drift check beside Evidently's, from bench/run_all.sh output.

    .venv/bin/python bench/compare_drift.py [FOLDER]

FOLDER (default /tmp/benchresults) holds evidently_drift.json (the last stdout line of
shared/bench/peers/evidently_drift.py) and loopml_drift.json (bench/drift.py), measured in
one session. Evidently's time is its load + report time; loopml's is from the Parquet files
to the finished result. Targets at 1M rows: ≥ 20x faster, ≤ 1/4 of the peak memory, the
same verdict on every column with scores equal to 1e-3 relative.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def last_line(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text().strip().splitlines()[-1])
    return data


def median(summary: dict[str, Any], key: str) -> float | None:
    entry = summary.get(key)
    return None if entry is None else float(entry["median"])


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/benchresults")
    peer = last_line(folder / "evidently_drift.json")
    ours = last_line(folder / "loopml_drift.json")
    if peer is None or ours is None:
        raise SystemExit(f"need evidently_drift.json and loopml_drift.json in {folder}")
    print(
        "| rows | Evidently s | Evidently MiB | scipy loop s | loopml s | loopml MiB "
        "| speed-up | memory share | same verdicts | max rel. score diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size, result in ours["results"].items():
        evidently = peer["results"].get(size, {}).get("evidently", {}).get("summary", {})
        limit = peer["results"].get(size, {}).get("limit", {}).get("summary", {})
        load, report = median(evidently, "load_s"), median(evidently, "report_s")
        peer_s = None if load is None or report is None else load + report
        peer_mib = median(evidently, "peak_rss_mib")
        scipy_s = None
        if median(limit, "compute_s") is not None and median(limit, "load_s") is not None:
            scipy_s = (median(limit, "compute_s") or 0) + (median(limit, "load_s") or 0)
        agreement = result.get("agreement") or {}
        speed = f"{peer_s / result['total_s']:.0f}x" if peer_s else "—"
        memory = f"{result['peak_rss_mib'] / peer_mib:.2f}" if peer_mib else "—"
        print(
            f"| {size} | {peer_s or '—'} | {peer_mib or '—'} | "
            f"{round(scipy_s, 2) if scipy_s else '—'} | {result['total_s']} | "
            f"{result['peak_rss_mib']} | {speed} | {memory} | "
            f"{agreement.get('same_verdict_every_column', '—')} | "
            f"{agreement.get('max_rel_score_diff', '—')} |"
        )


if __name__ == "__main__":
    main()
