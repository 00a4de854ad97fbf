"""Scoring a file much larger than a chunk keeps memory at the chunk's scale.

The batch runs in a fresh interpreter so its peak resident memory (`ru_maxrss`) belongs to
this batch alone: the peak while scoring, minus the peak after the imports and the model
load, must stay under 60 % of the input's size as one Arrow table (about 200 MiB here).
Reading the file whole into pandas, predicting and writing takes about 3.7 times that
size; 100k-row chunks take about 90 MiB whatever the file's length.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.registry import ModelVersion
from loopml.sdk import Client
from tests.batch.conftest import Hours

ROWS = 2_000_000
CHUNK = 100_000

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from loopml.batch import score_file
    from loopml.sdk import connect

    client = connect(sys.argv[1], create=False)
    client.models.load("bikes/1")  # imports and model caches count in the baseline
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = score_file(client, "bikes/1", sys.argv[2], sys.argv[3], chunk_rows=int(sys.argv[4]))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "after_kib": after, "rows": result.rows}))
    """
)


def _big_input(path: Path, hours: Hours) -> int:
    """ROWS rows of summer hours (repeated) in 100k-row groups; returns their Arrow size."""
    block = pa.Table.from_pandas(hours.summer, preserve_index=False)
    table = pa.concat_tables([block] * -(-ROWS // block.num_rows))
    pq.write_table(table, path, row_group_size=CHUNK)
    return int(table.nbytes)


@pytest.mark.slow
def test_a_large_file_is_scored_with_memory_bounded_by_the_chunk(
    client: Client, ridge: ModelVersion, hours: Hours, tmp_path: Path
) -> None:
    source, dest = tmp_path / "big.parquet", tmp_path / "scored.parquet"
    whole = _big_input(source, hours)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(client.settings.root),
            str(source),
            str(dest),
            str(CHUNK),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    grown = (report["after_kib"] - report["before_kib"]) * 1024
    assert report["rows"] == pq.ParquetFile(source).metadata.num_rows >= ROWS
    assert grown < 0.6 * whole, f"scoring grew memory by {grown / 2**20:.0f} MiB"
    assert np.isfinite(pq.read_table(dest, columns=["prediction"]).column(0).to_numpy()).all()
