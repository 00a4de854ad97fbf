"""How MLflow's identifiers and units map onto loopml's.

Run and experiment ids pass through unchanged: loopml's `run-3f9c2a1b` and `exp-…` fit
MLflow's id rules, so a run id the MLflow client prints is the one `loopml runs show`
takes. Times are milliseconds in MLflow and seconds in loopml. A run's artifacts live at
`mlflow-artifacts:/<experiment id>/<run id>/artifacts`, which the client resolves to the
proxied artifact routes of the same server.
"""

from __future__ import annotations

from loopml.errors import ValidationError

ARTIFACTS = "artifacts"


def to_ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def to_seconds(ms: object, what: str) -> float:
    """MLflow milliseconds as loopml seconds; refuses what is not an integer."""
    if isinstance(ms, bool) or not isinstance(ms, int | str):
        raise ValidationError(f"{what} must be milliseconds since the epoch, got {ms!r}")
    try:
        return int(ms) / 1000.0
    except ValueError:
        raise ValidationError(f"{what} must be milliseconds since the epoch, got {ms!r}") from None


def artifact_uri(experiment_id: str, run_id: str) -> str:
    return f"mlflow-artifacts:/{experiment_id}/{run_id}/{ARTIFACTS}"


def split_artifact_path(path: str) -> tuple[str, str]:
    """(run id, path inside the run) for `<experiment id>/<run id>/artifacts[/<path>]`."""
    parts = path.strip("/").split("/", 3)
    if len(parts) < 3 or parts[2] != ARTIFACTS or not parts[1]:
        raise ValidationError(
            f"artifact path {path!r} must be <experiment id>/<run id>/artifacts/<path> "
            "(the run's artifact_uri names it)"
        )
    return parts[1], parts[3] if len(parts) == 4 else ""
