"""Who uses which features: model versions trained on training sets built from a view or a
service, and deployments that serve a feature service."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from loopml.store import Stores
from loopml.store.schema import deployments, feature_training_sets, model_versions, run_inputs


@dataclass(frozen=True)
class Usage:
    model_versions: tuple[str, ...]  # model:NAME/VERSION
    deployments: tuple[str, ...]
    training_sets: tuple[str, ...]  # dataset version ids


def usage(stores: Stores, *, service: str | None = None, view: str | None = None) -> Usage:
    """Training sets, model versions and deployments that depend on `service` or `view`."""
    with stores.engine.connect() as conn:
        sets = conn.execute(
            select(
                feature_training_sets.c.dataset_version_id,
                feature_training_sets.c.service,
                feature_training_sets.c.views,
            )
        ).all()
        chosen = [
            s.dataset_version_id
            for s in sets
            if (service is not None and s.service == service)
            or (view is not None and any(v.get("view") == view for v in s.views))
        ]
        models = conn.execute(
            select(model_versions.c.model, model_versions.c.version)
            .join(run_inputs, run_inputs.c.run_id == model_versions.c.run_id)
            .where(run_inputs.c.dataset_version_id.in_(chosen))
            .order_by(model_versions.c.model, model_versions.c.version)
        ).all()
        served = conn.execute(select(deployments.c.name, deployments.c.config)).all()
    names = [
        d.name
        for d in served
        if service is not None and (d.config or {}).get("feature_service") == service
    ]
    return Usage(
        tuple(f"model:{m.model}/{m.version}" for m in models),
        tuple(sorted(names)),
        tuple(chosen),
    )
