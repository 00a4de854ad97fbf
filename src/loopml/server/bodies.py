"""Request bodies of the REST API, validated by FastAPI and described in its OpenAPI
document. Unknown fields are refused, so a misspelt one is an error, not a silent no-op."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool | None
RunStatus = Literal["FINISHED", "FAILED", "KILLED"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateExperiment(Body):
    name: str = Field(description="Experiment name (letters, digits, '_', '.', '-').")


Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Code(Body):
    """What the client runs: its git state and environment (blobs stored beforehand)."""

    commit: str | None = Field(None, max_length=64)
    dirty: bool | None = None
    diff_digest: Digest | None = Field(None, description="The uncommitted diff's blob.")
    packages_digest: Digest = Field(description="The blob of its `name==version` list.")
    environment: dict[str, Any] = Field(
        default_factory=dict, description="Python, platform, entry point."
    )


class CreateRun(Body):
    experiment: str = Field("default", description="Experiment name, created on first use.")
    name: str | None = Field(None, description="Run name (default: its short id).")
    parent_id: str | None = Field(None, description="Id of the parent run (nested runs).")
    params: dict[str, Scalar] = Field(default_factory=dict)
    tags: dict[str, Scalar] = Field(default_factory=dict)
    code: Code | None = Field(None, description="The client's code version and environment.")


class Params(Body):
    params: dict[str, Scalar]


class Tags(Body):
    tags: dict[str, Scalar]


class StreamSegment(Body):
    """Bytes [start, end) of a client journal's records and the points they hold."""

    id: str = Field(description="The stream (one per client journal).")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    points: list[tuple[str, float, int, float]] = Field(
        default_factory=list, description="[key, value, step, timestamp] per point"
    )


class Batch(Body):
    params: dict[str, Scalar] = Field(default_factory=dict)
    tags: dict[str, Scalar] = Field(default_factory=dict)
    stream: StreamSegment | None = None


class EndRun(Body):
    status: RunStatus = "FINISHED"
    error: str | None = Field(None, max_length=100_000)
    stream: StreamSegment | None = Field(
        None, description="The last segment of the run's stream, absorbed before the end."
    )
    stream_id: str | None = Field(None, description="With stream_end: end only once the run")
    stream_end: int | None = Field(None, ge=0, description="holds its stream up to here.")


class RunInput(Body):
    dataset: str = Field(description="A dataset version: id or reference such as bikes@3.")
    role: str = "training"


class RegisterVersion(Body):
    run_id: str
    artifact_path: str = "model"
    description: str | None = None
    card: dict[str, Any] | None = None


class SetAlias(Body):
    version: int = Field(ge=1)


class RequestChange(Body):
    model: str = Field(description="The version to promote, e.g. model:bikes/7 or bikes/7.")
    alias: str = "champion"
    reason: str | None = None


class Decision(Body):
    comment: str | None = None


class CreatePrincipal(Body):
    name: str
    role: Literal["viewer", "editor", "approver", "admin"]


class CreateToken(Body):
    label: str | None = None
    expires_in_s: float | None = Field(None, gt=0)
