"""The pipelines the controller may launch: registered by an admin, pinned to their code.

A trigger names what it launches. Were that any `module:attr`, an editor could make the
controller call `os:system` under its identity. So the controller launches only what an
admin registered here: a `@pipeline` or a function defined in the project's own code (never
the standard library, an installed package or loopml), under a name, with the code
fingerprint it had when registered. At launch the fingerprint is computed again; code
that changed since needs a new registration before it runs unattended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from loopml.errors import NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance import append_event, require
from loopml.import_paths import resolve_import_path
from loopml.pipelines.definition import Pipeline
from loopml.pipelines.fingerprint import code_fingerprint, is_project_module
from loopml.store import Stores
from loopml.store.schema import registered_pipelines
from loopml.validation import check_name

PIPELINE, FUNCTION = "pipeline", "function"


@dataclass(frozen=True)
class RegisteredPipeline:
    name: str
    import_path: str
    kind: str  # pipeline | function
    fingerprint: str
    registered_by: str
    registered_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def launchable(import_path: str) -> tuple[Pipeline | Callable[..., Any], str]:
    """What `import_path` names, if the controller may ever launch it: a `Pipeline`, or a
    plain function defined in project code. Anything else is refused, with the reason."""
    found = resolve_import_path(import_path)
    if isinstance(found, Pipeline):
        return found, PIPELINE
    module = getattr(found, "__module__", None)
    if callable(found) and not isinstance(found, type) and is_project_module(module):
        return found, FUNCTION
    raise PermissionDeniedError(
        f"{import_path} is not a pipeline or a function of your project (it is "
        f"{type(found).__name__} from {module or 'an unknown module'}); the controller "
        "launches only @pipeline functions and functions defined in project code"
    )


class PipelineCatalog:
    """Register, list and load the pipelines triggers may launch."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine

    def register(self, name: str, import_path: str) -> RegisteredPipeline:
        """Register (or re-register, pinning the current code) `import_path` as `name`."""
        actor = self.stores.actor
        require(actor, "admin", "register pipelines for the controller")
        check_name("pipeline", name)
        target, kind = launchable(import_path.strip())
        record = RegisteredPipeline(
            name,
            import_path.strip(),
            kind,
            _fingerprint(target),
            actor.name,
            time.time(),
        )
        with self.engine.begin() as conn:
            clash = conn.execute(
                select(registered_pipelines.c.name).where(
                    registered_pipelines.c.import_path == record.import_path,
                    registered_pipelines.c.name != name,
                )
            ).scalar()
            if clash is not None:
                raise ValidationError(
                    f"{record.import_path} is registered as {clash!r} already; re-register "
                    f"it under that name"
                )
            previous = conn.execute(
                select(registered_pipelines).where(registered_pipelines.c.name == name)
            ).first()
            values = record.to_dict()
            if previous is None:
                conn.execute(registered_pipelines.insert().values(values))
            else:
                conn.execute(
                    registered_pipelines.update()
                    .where(registered_pipelines.c.name == name)
                    .values(values)
                )
            append_event(
                conn,
                actor,
                "pipeline.register",
                f"pipeline:{name}",
                {
                    "import_path": record.import_path,
                    "kind": kind,
                    "fingerprint": record.fingerprint,
                    "previous_fingerprint": None if previous is None else previous.fingerprint,
                },
            )
        return record

    def remove(self, name: str) -> None:
        actor = self.stores.actor
        require(actor, "admin", "remove registered pipelines")
        with self.engine.begin() as conn:
            done = conn.execute(
                registered_pipelines.delete().where(registered_pipelines.c.name == name)
            )
            if done.rowcount == 0:
                raise NotFoundError(f"no registered pipeline {name!r}")
            append_event(conn, actor, "pipeline.unregister", f"pipeline:{name}", {})

    def list(self) -> list[RegisteredPipeline]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(registered_pipelines).order_by(registered_pipelines.c.name)
            ).all()
        return [RegisteredPipeline(**dict(r._mapping)) for r in rows]

    def find(self, reference: str) -> RegisteredPipeline | None:
        """The registration named `reference`, or registered for that import path."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(registered_pipelines).where(
                    (registered_pipelines.c.name == reference)
                    | (registered_pipelines.c.import_path == reference)
                )
            ).first()
        return None if row is None else RegisteredPipeline(**dict(row._mapping))

    def get(self, reference: str) -> RegisteredPipeline:
        found = self.find(reference)
        if found is None:
            raise PermissionDeniedError(
                f"pipeline {reference!r} is not registered, so the controller will not run it; "
                f"an admin registers it with `loopml pipeline register NAME MODULE:ATTR`"
            )
        return found

    def admit(self, reference: str) -> str:
        """What a trigger may name: a registered pipeline (by name or import path). An admin
        naming an unregistered import path registers it on the spot under its attribute
        name; anyone else is refused."""
        found = self.find(reference)
        if found is not None:
            return found.name
        if ":" in reference and self.stores.actor.at_least("admin"):
            name = reference.strip().rsplit(":", 1)[1].replace(".", "-")
            if self.find(name) is not None:
                name = reference.strip().replace(":", "-").replace(".", "-")
            return self.register(name, reference).name
        return self.get(reference).name  # raises: not registered

    def load(self, reference: str) -> tuple[Pipeline | Callable[..., Any], RegisteredPipeline]:
        """The registered target, after checking it is still launchable and its code is
        the code that was registered."""
        record = self.get(reference)
        target, _ = launchable(record.import_path)
        now = _fingerprint(target)
        if now != record.fingerprint:
            raise PermissionDeniedError(
                f"pipeline {record.name!r} ({record.import_path}) changed since "
                f"{record.registered_by} registered it (code fingerprint "
                f"{record.fingerprint[:12]} → {now[:12]}); an admin reviews the change and "
                f"registers it again with `loopml pipeline register {record.name} "
                f"{record.import_path}`"
            )
        return target, record


def _fingerprint(target: Pipeline | Callable[..., Any]) -> str:
    """The code fingerprint of a pipeline's function (its steps are found through it)."""
    return code_fingerprint(target.fn if isinstance(target, Pipeline) else target)
