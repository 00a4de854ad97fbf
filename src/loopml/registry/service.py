"""The model registry: registered models, immutable versions, aliases, lineage.

Protected aliases (by default `champion`) never move directly: `request_alias` opens an
approval request (see approvals.py) and the alias moves once its policy is satisfied.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance import append_event, require
from loopml.governance.traffic_policy import policy_in_force
from loopml.registry.aliases import (
    DEFAULT_PROTECTED,
    alias_target,
    aliases_of,
    check_alias,
    move_alias,
    refuse_protected,
    remove_alias,
)
from loopml.registry.packaging import MANIFEST_NAME, LoadedModel, load_model
from loopml.registry.policy import Policy, parse_policy
from loopml.registry.records import STATES, ModelVersion, RegisteredModel
from loopml.store import Stores, new_id
from loopml.store.paging import Keyset, Page, SortKey
from loopml.store.schema import (
    latest_metrics,
    model_aliases,
    model_versions,
    registered_models,
    run_artifacts,
    runs,
)
from loopml.uris import parse_model_ref
from loopml.validation import check_name

_VERSION_PAGES = Keyset(
    "model versions", [SortKey(model_versions.c.model), SortKey(model_versions.c.version)]
)


class RegistryService:
    """Register, find, load and label model versions."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine

    # ------------------------------------------------------------------ models
    def create_model(
        self,
        name: str,
        *,
        description: str | None = None,
        protected_aliases: tuple[str, ...] | list[str] | None = None,
    ) -> RegisteredModel:
        """Create a registered model (or return the existing one of that name).

        Its protected aliases default to `champion` and the traffic policy's approved alias;
        only an admin may create a model that leaves the approved alias unprotected."""
        check_name("model", name)
        actor = self.stores.actor
        require(actor, "write", "create registered models")
        if isinstance(protected_aliases, str):
            raise ValidationError("protected_aliases must be a list of aliases, not one string")
        for alias in protected_aliases or ():
            check_alias(alias)
        try:
            with self.engine.begin() as conn:
                if self._model_row(conn, name) is None:
                    approved = policy_in_force(conn).policy.approved_alias
                    if protected_aliases is None:
                        protected_aliases = list(dict.fromkeys([*DEFAULT_PROTECTED, approved]))
                    if approved not in protected_aliases and not actor.at_least("admin"):
                        raise PermissionDeniedError(
                            f"{actor.name} ({actor.role}) may not create model {name!r} "
                            f"without protecting {approved!r}: it is the traffic policy's "
                            "approved alias, which must move only through approvals (full "
                            "production traffic follows it). Keep the default protected "
                            "aliases, or ask an admin"
                        )
                    conn.execute(
                        registered_models.insert().values(
                            name=name,
                            description=description,
                            policy=None,
                            protected_aliases=list(protected_aliases),
                            created_by=self.stores.actor.name,
                            created_at=time.time(),
                        )
                    )
                    append_event(
                        conn,
                        self.stores.actor,
                        "model.create",
                        f"model:{name}",
                        {"protected_aliases": list(protected_aliases)},
                    )
        except IntegrityError:
            pass  # created concurrently: fine, it exists
        return self.get_model(name)

    def _model_row(self, conn: Connection, name: str) -> Any:
        return conn.execute(
            select(registered_models).where(registered_models.c.name == name)
        ).first()

    def get_model(self, name: str) -> RegisteredModel:
        with self.engine.connect() as conn:
            row = self._model_row(conn, name)
            if row is None:
                raise NotFoundError(
                    f"no registered model {name!r}; `loopml models list` shows them"
                )
            aliases = aliases_of(conn, name)
            latest = conn.execute(
                select(func.max(model_versions.c.version)).where(model_versions.c.model == name)
            ).scalar()
        m = row._mapping
        return RegisteredModel(
            name=m["name"],
            description=m["description"],
            protected_aliases=list(m["protected_aliases"]),
            policy=m["policy"],
            created_by=m["created_by"],
            created_at=m["created_at"],
            aliases=aliases,
            latest_version=latest,
        )

    def list_models(self) -> list[RegisteredModel]:
        with self.engine.connect() as conn:
            names = list(
                conn.execute(
                    select(registered_models.c.name).order_by(registered_models.c.name)
                ).scalars()
            )
        return [self.get_model(n) for n in names]

    def set_policy(self, name: str, policy: dict[str, Any] | Policy) -> Policy:
        """Replace the approval policy of a model (admins only; audited)."""
        require(self.stores.actor, "admin", "change approval policies")
        parsed = parse_policy(policy)
        self.get_model(name)
        data = parsed.model_dump(mode="json")
        with self.engine.begin() as conn:
            conn.execute(
                update(registered_models)
                .where(registered_models.c.name == name)
                .values(policy=data)
            )
            append_event(conn, self.stores.actor, "policy.set", f"model:{name}", data)
        return parsed

    def policy(self, name: str) -> Policy:
        return parse_policy(self.get_model(name).policy)

    # ------------------------------------------------------------------ versions
    def register_version(
        self,
        name: str,
        run_id: str,
        artifact_path: str = "model",
        *,
        description: str | None = None,
        card: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Register the model a run logged at `artifact_path` as the next version of `name`."""
        require(self.stores.actor, "write", "register model versions")
        if card is not None and not isinstance(card, dict):
            raise ValidationError("card must be a dict of model-card fields (intended_use, …)")
        self.create_model(name)
        path = artifact_path.strip("/")
        with self.engine.connect() as conn:
            run = conn.execute(select(runs.c.status).where(runs.c.id == run_id)).first()
            if run is None:
                raise NotFoundError(f"no run {run_id}; `loopml runs list` shows the runs")
            if run.status in ("FAILED", "KILLED"):
                raise ValidationError(
                    f"run {run_id} ended {run.status}; only a running or finished run can "
                    "register a model — fix the training and run it again"
                )
            digest = conn.execute(
                select(run_artifacts.c.digest).where(
                    run_artifacts.c.run_id == run_id,
                    run_artifacts.c.path == f"{path}/{MANIFEST_NAME}",
                )
            ).scalar()
        if digest is None:
            raise NotFoundError(
                f"run {run_id} has no model at {path!r} (no {path}/{MANIFEST_NAME}); "
                "log it with run.log_model(model)"
            )
        manifest = json.loads(self.stores.artifacts.read_bytes(digest))
        metrics = self._run_metrics(run_id)
        for _attempt in range(20):
            try:
                with self.engine.begin() as conn:
                    latest = conn.execute(
                        select(func.max(model_versions.c.version)).where(
                            model_versions.c.model == name
                        )
                    ).scalar()
                    version = (latest or 0) + 1
                    conn.execute(
                        model_versions.insert().values(
                            id=new_id("mv"),
                            model=name,
                            version=version,
                            run_id=run_id,
                            artifact_path=path,
                            manifest_digest=digest,
                            flavor=manifest.get("flavor", "unknown"),
                            signature=manifest.get("signature"),
                            metrics=metrics,
                            state="REGISTERED",
                            description=description,
                            card=card or {},
                            created_by=self.stores.actor.name,
                            created_at=time.time(),
                        )
                    )
                    append_event(
                        conn,
                        self.stores.actor,
                        "model.register",
                        f"model:{name}/{version}",
                        {"run": "run:" + run_id.removeprefix("run-"), "digest": digest},
                    )
                return self.get_version(f"{name}/{version}")
            except IntegrityError:
                continue
        raise ConflictError(f"could not allocate a version number for model {name!r}")

    def _run_metrics(self, run_id: str) -> dict[str, float]:
        with self.engine.connect() as conn:
            return {
                k: float(v)
                for k, v in conn.execute(
                    select(latest_metrics.c.key, latest_metrics.c.value).where(
                        latest_metrics.c.run_id == run_id
                    )
                ).all()
            }

    def get_version(self, ref: str | ModelVersion) -> ModelVersion:
        """A version by `model:bikes/3`, `bikes@champion`, `bikes` (latest) or its id."""
        if isinstance(ref, ModelVersion):
            return ref
        query = select(model_versions)
        if ref.startswith("mv-"):
            query = query.where(model_versions.c.id == ref)
        else:
            parsed = parse_model_ref(ref)
            query = query.where(model_versions.c.model == parsed.name)
            if parsed.version is not None:
                query = query.where(model_versions.c.version == parsed.version)
            elif parsed.alias is not None:
                with self.engine.connect() as conn:
                    target = alias_target(conn, parsed.name, parsed.alias)
                if target is None:
                    raise NotFoundError(f"model {parsed.name!r} has no alias {parsed.alias!r}")
                query = query.where(model_versions.c.version == target)
            else:
                query = query.order_by(model_versions.c.version.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None:
                raise NotFoundError(f"no model version {ref!r}; `loopml models list` shows them")
            aliases = list(
                conn.execute(
                    select(model_aliases.c.alias)
                    .where(
                        model_aliases.c.model == row.model, model_aliases.c.version == row.version
                    )
                    .order_by(model_aliases.c.alias)
                ).scalars()
            )
        return _version(row, aliases)

    def list_versions(
        self,
        name: str | None = None,
        *,
        state: str | None = None,
        alias: str | None = None,
        run_id: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        """Versions by model, then number (oldest first), optionally in one `state`,
        holding `alias` or made from `run_id`, a page at a time."""
        query = select(model_versions)
        if name is not None:
            query = query.where(model_versions.c.model == name)
        if state is not None:
            query = query.where(model_versions.c.state == state)
        if run_id is not None:
            query = query.where(model_versions.c.run_id == run_id)
        if alias is not None:
            query = query.where(
                exists().where(
                    model_aliases.c.model == model_versions.c.model,
                    model_aliases.c.version == model_versions.c.version,
                    model_aliases.c.alias == alias,
                )
            )
        scope = {"model": name, "state": state, "alias": alias, "run_id": run_id}
        with self.engine.connect() as conn:
            rows, token = _VERSION_PAGES.page(
                conn, query, max_results=max_results, page_token=page_token, scope=scope
            )
            names = sorted({r.model for r in rows})
            alias_rows = (
                conn.execute(select(model_aliases).where(model_aliases.c.model.in_(names))).all()
                if rows
                else []
            )
        by_version: dict[tuple[str, int], list[str]] = {}
        for a in alias_rows:
            by_version.setdefault((a.model, a.version), []).append(a.alias)
        return Page(
            [_version(r, sorted(by_version.get((r.model, r.version), []))) for r in rows], token
        )

    def set_state(self, ref: str, state: str) -> ModelVersion:
        require(self.stores.actor, "write", "change a version's lifecycle state")
        if state not in STATES:
            raise ValidationError(f"state must be one of {', '.join(STATES)}, got {state!r}")
        version = self.get_version(ref)
        if state == "ARCHIVED" and version.aliases:
            raise ConflictError(
                f"{version.uri} still holds aliases {version.aliases}; move them first"
            )
        with self.engine.begin() as conn:
            conn.execute(
                update(model_versions).where(model_versions.c.id == version.id).values(state=state)
            )
            append_event(
                conn,
                self.stores.actor,
                "model.state",
                version.uri,
                {"from": version.state, "to": state},
            )
        return self.get_version(version.id)

    # ------------------------------------------------------------------ aliases
    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point an unprotected alias at a version. Protected ones need `request_alias`."""
        require(self.stores.actor, "write", "move aliases")
        check_alias(alias)
        refuse_protected(
            name,
            alias,
            self.get_model(name).protected_aliases,
            ": it moves only through an approval request "
            f"(`loopml models request {name}/{version} --alias {alias}`)",
        )
        target = self.get_version(f"{name}/{version}")
        with self.engine.begin() as conn:
            move_alias(conn, name, alias, version, self.stores.actor.name)
        return self.get_version(target.id)

    def delete_alias(self, name: str, alias: str) -> None:
        require(self.stores.actor, "write", "remove aliases")
        refuse_protected(
            name, alias, self.get_model(name).protected_aliases, " and cannot be removed"
        )
        with self.engine.begin() as conn:
            remove_alias(conn, name, alias, self.stores.actor.name)

    # ------------------------------------------------------------------ loading
    def model_folder(self, ref: str | ModelVersion) -> Path:
        """The version's files in a local folder, each verified against its hash."""
        version = self.get_version(ref)
        if version.run_id is None:
            raise NotFoundError(f"{version.uri} has no run holding its files")
        folder = (
            self.stores.settings.local_path(self.stores.settings.cache_dir)
            / "models"
            / version.manifest_digest
        )
        prefix = version.artifact_path + "/"
        with self.engine.connect() as conn:
            files = conn.execute(
                select(run_artifacts.c.path, run_artifacts.c.digest).where(
                    run_artifacts.c.run_id == version.run_id,
                    run_artifacts.c.path.like(prefix + "%"),
                )
            ).all()
        manifest_digest = dict(files).get(prefix + MANIFEST_NAME)
        if manifest_digest != version.manifest_digest:
            raise ValidationError(
                f"{version.uri}: the run's model manifest is not the one registered "
                "(it was replaced after registration); refusing to load it"
            )
        for path, digest in files:
            self.stores.artifacts.fetch(digest, folder / path[len(prefix) :])
        return folder

    def load(self, ref: str | ModelVersion) -> LoadedModel:
        """Load a version after verifying every one of its files."""
        version = self.get_version(ref)
        return load_model(self.model_folder(version), manifest_digest=version.manifest_digest)


def _version(row: Any, aliases: list[str]) -> ModelVersion:
    m = row._mapping
    return ModelVersion(
        id=m["id"],
        model=m["model"],
        version=m["version"],
        run_id=m["run_id"],
        artifact_path=m["artifact_path"],
        manifest_digest=m["manifest_digest"],
        flavor=m["flavor"],
        signature=m["signature"],
        metrics=m["metrics"] or {},
        state=m["state"],
        description=m["description"],
        card=m["card"] or {},
        created_by=m["created_by"],
        created_at=m["created_at"],
        aliases=aliases,
    )
