"""`loopml data …` against a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from loopml.sdk import Client
from tests.cli.helpers import Invoke, user_error


def test_add_prints_uri_shape_and_hash(cli: Invoke, client: Client, bikes_csv: Path) -> None:
    result = cli("data", "add", "bikes", str(bikes_csv), "--time-column", "day")
    assert result.exit_code == 0, result.output
    version = client.get_dataset("bikes@1")
    assert version.time_column == "day"
    lines = result.stdout.splitlines()
    assert lines[0] == "logged dataset:bikes@1"
    assert "rows     6" in result.stdout
    assert "columns  4 (day, temp, season, count)" in result.stdout
    assert f"hash     {version.content_hash[:12]}" in result.stdout


def test_add_identical_content_reports_the_existing_version(
    cli: Invoke, client: Client, bikes_csv: Path
) -> None:
    cli("data", "add", "bikes", str(bikes_csv))
    result = cli("data", "add", "bikes", str(bikes_csv))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("unchanged: identical to dataset:bikes@1")
    assert len(client.list_datasets("bikes")) == 1


def test_add_folder_with_parent_and_description(
    cli: Invoke, client: Client, tmp_path: Path, bikes_csv: Path, bikes_parquet: Path
) -> None:
    cli("data", "add", "raw", str(bikes_csv))
    folder = tmp_path / "parts"
    folder.mkdir()
    frame = pd.read_parquet(bikes_parquet)
    frame.iloc[:4].to_parquet(folder / "a.parquet", index=False)
    frame.iloc[4:].to_parquet(folder / "b.parquet", index=False)
    result = cli(
        "data", "add", "clean", str(folder), "--parent", "raw@1", "--description", "fixed [temp]"
    )
    assert result.exit_code == 0, result.output
    assert "logged dataset:clean@1" in result.stdout
    assert "parent   dataset:raw@1" in result.stdout
    version = client.get_dataset("clean")
    assert (version.layout, version.row_count, version.description) == ("folder", 8, "fixed [temp]")


def test_add_nonexistent_file(cli: Invoke, tmp_path: Path) -> None:
    user_error(cli("data", "add", "bikes", str(tmp_path / "missing.csv")), "missing.csv", "no such")


def test_add_unknown_format(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    user_error(cli("data", "add", "bikes", str(path)), "unknown format", ".parquet")


def test_add_unknown_time_column(cli: Invoke, bikes_csv: Path) -> None:
    user_error(
        cli("data", "add", "bikes", str(bikes_csv), "--time-column", "when"), "'when'", "columns"
    )


def test_add_invalid_name(cli: Invoke, bikes_csv: Path) -> None:
    user_error(cli("data", "add", "bikes!", str(bikes_csv)), "dataset name")


def test_list_table(cli: Invoke, bikes_csv: Path, bikes_parquet: Path) -> None:
    cli("data", "add", "bikes", str(bikes_csv))
    cli("data", "add", "bikes", str(bikes_parquet))
    result = cli("data", "list")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "dataset:bikes@" in line]
    assert len(rows) == 2
    assert rows[0].split("│")[1].strip() == "dataset:bikes@1"
    assert rows[1].split("│")[-2].strip() == "dataset:bikes@1"  # parent of @2
    assert "       5 │" in rows[1]  # five columns


def test_list_json_and_name_filter(
    cli: Invoke, client: Client, bikes_csv: Path, bikes_parquet: Path
) -> None:
    cli("data", "add", "bikes", str(bikes_csv))
    cli("data", "add", "bikes", str(bikes_parquet))
    cli("data", "add", "other", str(bikes_csv))
    listed = json.loads(cli("data", "list", "bikes", "--json").stdout)
    assert [v["uri"] for v in listed] == ["dataset:bikes@1", "dataset:bikes@2"]
    assert listed[1]["parent"] == "dataset:bikes@1"
    assert listed[1]["row_count"] == 8
    assert listed[0]["id"] == client.get_dataset("bikes@1").id


def test_list_empty_and_unknown_name(cli: Invoke) -> None:
    assert "no dataset versions yet" in cli("data", "list").stdout
    user_error(cli("data", "list", "nope"), "no dataset named 'nope'")


def test_show_schema_profile_and_metadata(cli: Invoke, bikes_csv: Path) -> None:
    cli("data", "add", "bikes", str(bikes_csv), "--description", "first cut")
    result = cli("data", "show", "dataset:bikes@1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in ("dataset:bikes@1", "first cut", "schema", "profile", "VARCHAR", "DOUBLE"):
        assert expected in out
    temp = [line for line in out.splitlines() if line.startswith("│ temp ")][-1]  # profile
    cells = [c.strip() for c in temp.split("│")[1:-1]]
    # column, nulls, min, max, mean, std, median, top values
    assert cells[:4] == ["temp", "1 (17%)", "2", "7"]
    assert cells[4] == "4.6"
    season = [line for line in out.splitlines() if line.startswith("│ season ")][-1]
    assert "winter (4), spring (2)" in season


def test_show_json_is_the_full_version(cli: Invoke, client: Client, bikes_csv: Path) -> None:
    cli("data", "add", "bikes", str(bikes_csv))
    shown = json.loads(cli("data", "show", "bikes", "--json").stdout)
    version = client.get_dataset("bikes@1")
    assert shown["uri"] == "dataset:bikes@1"
    assert shown["content_hash"] == version.content_hash
    assert shown["schema"] == version.schema
    assert shown["profile"]["count"]["max"] == 210


def test_show_unknown_dataset(cli: Invoke) -> None:
    user_error(cli("data", "show", "bikes@4"), "no dataset version dataset:bikes@4")


def test_show_malformed_reference(cli: Invoke) -> None:
    user_error(cli("data", "show", "bikes@v2"), "'bikes@v2'", "number or 'latest'")


def test_diff_schema_rows_and_profile(cli: Invoke, bikes_csv: Path, bikes_parquet: Path) -> None:
    cli("data", "add", "bikes", str(bikes_csv))
    cli("data", "add", "bikes", str(bikes_parquet))
    result = cli("data", "diff", "bikes@1", "bikes@2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("dataset:bikes@1 → dataset:bikes@2")
    assert "rows 6 → 8 (+2)" in out
    assert "added" in out and "holiday" in out
    temp_nulls = next(line for line in out.splitlines() if "null_fraction" in line)
    assert "16.7%" in temp_nulls and "-16.7 pp" in temp_nulls
    assert "+summer" in out


def test_diff_of_a_version_with_itself(cli: Invoke, bikes_csv: Path) -> None:
    cli("data", "add", "bikes", str(bikes_csv))
    out = cli("data", "diff", "bikes@1", "bikes").stdout
    assert "schema unchanged" in out
    assert "column statistics unchanged" in out


def test_diff_json(cli: Invoke, bikes_csv: Path, bikes_parquet: Path) -> None:
    cli("data", "add", "bikes", str(bikes_csv))
    cli("data", "add", "bikes", str(bikes_parquet))
    diff = json.loads(cli("data", "diff", "bikes@1", "bikes@2", "--json").stdout)
    assert diff["rows"] == {"old": 6, "new": 8, "delta": 2}
    assert [c["name"] for c in diff["added"]] == ["holiday"]
    assert diff["columns"]["count"]["max"]["delta"] == 65


def test_diff_unknown_version(cli: Invoke, bikes_csv: Path) -> None:
    cli("data", "add", "bikes", str(bikes_csv))
    user_error(cli("data", "diff", "bikes@1", "bikes@9"), "dataset:bikes@9")
