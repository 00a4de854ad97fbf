"""Request bodies of the REST API, validated by FastAPI and described in its OpenAPI
document. Unknown fields are refused, so a misspelt one is an error, not a silent no-op."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loopml.tracking.streams import MAX_BATCH_POINTS
from loopml.validation import (
    KEY_PATTERN,
    MAX_KEY_LEN,
    MAX_NAME_LEN,
    MAX_VALUE_LEN,
    NAME_PATTERN,
)

# The shapes the domain checks, described in the schema so that clients (and fuzzers) know
# them, and checked by the domain as in local mode, whose messages say what to do.
Name = Annotated[str, Field(json_schema_extra={"pattern": NAME_PATTERN, "maxLength": MAX_NAME_LEN})]
Key = Annotated[str, Field(json_schema_extra={"pattern": KEY_PATTERN, "maxLength": MAX_KEY_LEN})]
Text = Annotated[str, Field(json_schema_extra={"maxLength": MAX_VALUE_LEN})]
Scalar = Text | int | float | bool | None
RunStatus = Literal["FINISHED", "FAILED", "KILLED"]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Step = Annotated[int, Field(ge=0)]
Stamp = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateExperiment(Body):
    name: Name = Field(description="Experiment name (letters, digits, '_', '.', '-').")


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
    experiment: Name = Field("default", description="Experiment name, created on first use.")
    name: Name | None = Field(None, description="Run name (default: its short id).")
    parent_id: str | None = Field(None, description="Id of the parent run (nested runs).")
    params: dict[Key, Scalar] = Field(default_factory=dict)
    tags: dict[Key, Scalar] = Field(default_factory=dict)
    code: Code | None = Field(None, description="The client's code version and environment.")


class Params(Body):
    params: dict[Key, Scalar]


class Tags(Body):
    tags: dict[Key, Scalar]


class StreamSegment(Body):
    """Bytes [start, end) of a client journal's records and the points they hold."""

    id: str = Field(
        pattern=r"^[A-Za-z0-9_\-]{8,40}$", description="The stream (one per client journal)."
    )
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    points: list[tuple[str, Finite, Step, Stamp]] = Field(
        default_factory=list,
        max_length=MAX_BATCH_POINTS,
        description="[key, value, step, timestamp] per point",
    )


CREATE_FIRST = (
    "Create the run (the id in the path, chosen by the client) before the rest, unless this "
    "principal created it already: the first request of a run started without a round trip."
)


class Batch(Body):
    create: CreateRun | None = Field(None, description=CREATE_FIRST)
    params: dict[Key, Scalar] = Field(default_factory=dict)
    tags: dict[Key, Scalar] = Field(default_factory=dict)
    stream: StreamSegment | None = None


class EndRun(Body):
    create: CreateRun | None = Field(None, description=CREATE_FIRST)
    status: RunStatus = "FINISHED"
    error: str | None = Field(None, max_length=100_000)
    stream: StreamSegment | None = Field(
        None, description="The last segment of the run's stream, absorbed before the end."
    )
    stream_id: str | None = Field(None, description="With stream_end: end only once the run")
    stream_end: int | None = Field(None, ge=0, description="holds its stream up to here.")


class RunInput(Body):
    dataset: str = Field(description="A dataset version: id or reference such as bikes@3.")
    role: Key = "training"


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


class SetState(Body):
    state: str = Field(description="REGISTERED, DEPRECATED or ARCHIVED (any case).")


class CreatePrincipal(Body):
    name: Name
    role: Literal["viewer", "editor", "approver", "admin"]


class CreateToken(Body):
    label: str | None = None
    expires_in_s: float | None = Field(None, gt=0)
