"""The registry half of the SDK: packaging a run's model, registering, promoting, cards.

`ModelsAPI` is the local implementation of the `models` namespace
(`loopml.sdk.api.models.Models`); its other attributes serve the local client."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.config.settings import Settings
from loopml.data import DatasetService
from loopml.governance import IdentityService
from loopml.registry import (
    ApprovalRequest,
    ApprovalService,
    EvaluationService,
    LoadedModel,
    ModelVersion,
    Policy,
    RegisteredModel,
    RegistryService,
    card_data,
    format_lineage,
    lineage,
    render_html,
    render_markdown,
)
from loopml.registry.reproduction import Reproduction, ReproductionService
from loopml.sdk.model_logging import ModelSources, log_model
from loopml.store import Stores
from loopml.store.paging import Page
from loopml.tracking import Run, TrackingService


class ModelsAPI:
    """Registry, approvals, evaluations and identities over one set of stores."""

    def __init__(self, stores: Stores, tracking: TrackingService, datasets: DatasetService) -> None:
        self.stores = stores
        self.tracking = tracking
        self.datasets = datasets
        self.registry = RegistryService(stores)
        self.evaluations = EvaluationService(self.registry, datasets)
        self.approvals = ApprovalService(self.registry, self.evaluations)
        self.identity = IdentityService(stores)
        self._sources = ModelSources(
            dataset=datasets.get, load=datasets.load, register=self._register_from
        )

    # ------------------------------------------------------------------ logging
    def log_model(
        self,
        run: Run,
        model: Any,
        name: str | None,
        *,
        artifact_path: str = "model",
        input_example: Any = None,
        register: bool = False,
        signature: Any = None,
        flavor: str | None = None,
        description: str | None = None,
        card: dict[str, Any] | None = None,
        training_data: pd.DataFrame | str | None = None,
    ) -> ModelVersion | list[str]:
        """Save, log as run artifacts, and (with `register`) register as `name`; see
        `loopml.sdk.model_logging.log_model` for what the signature learns and from where."""
        return log_model(
            self._sources,
            run,
            model,
            name,
            artifact_path=artifact_path,
            input_example=input_example,
            register=register,
            signature=signature,
            flavor=flavor,
            description=description,
            card=card,
            training_data=training_data,
        )

    def _register_from(
        self,
        name: str,
        run_id: str,
        artifact_path: str,
        description: str | None,
        card: dict[str, Any] | None,
    ) -> ModelVersion:
        return self.registry.register_version(
            name, run_id, artifact_path, description=description, card=card
        )

    # ------------------------------------------------------------------ the namespace
    def list(self) -> builtins.list[RegisteredModel]:
        return self.registry.list_models()

    def model(self, name: str) -> RegisteredModel:
        return self.registry.get_model(name)

    def versions(
        self, name: str, *, max_results: int = 1000, page_token: str | None = None
    ) -> Page[ModelVersion]:
        model = self.registry.get_model(name)  # an unknown model is an error, not a page
        return self.registry.list_versions(
            model.name, max_results=max_results, page_token=page_token
        )

    def get(self, ref: str) -> ModelVersion:
        return self.registry.get_version(ref)

    def register(
        self,
        name: str,
        run_id: str,
        artifact_path: str = "model",
        *,
        description: str | None = None,
        card: dict[str, Any] | None = None,
    ) -> ModelVersion:
        return self.registry.register_version(
            name, run_id, artifact_path, description=description, card=card
        )

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        return self.registry.set_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        self.registry.delete_alias(name, alias)

    def set_state(self, ref: str, state: str) -> ModelVersion:
        return self.registry.set_state(self.registry.get_version(ref).id, state)

    def policy(self, name: str) -> Policy:
        return self.registry.policy(name)

    def set_policy(self, name: str, policy: dict[str, Any] | Policy) -> Policy:
        return self.registry.set_policy(name, policy)

    def evaluate(
        self,
        ref: str,
        dataset: str,
        target: str,
        sensitive: builtins.list[str] | None = None,
    ) -> dict[str, Any]:
        return self.evaluations.evaluate(ref, dataset, target, sensitive)

    def load(self, ref: str) -> LoadedModel:
        return self.registry.load(ref)

    def request(
        self, ref: str, alias: str = "champion", reason: str | None = None
    ) -> ApprovalRequest:
        return self.approvals.request(ref, alias, reason)

    def lineage(self, ref: str) -> dict[str, Any]:
        return lineage(self.registry, self.tracking, self.datasets, ref)

    def lineage_text(self, ref: str) -> str:
        return "\n".join(format_lineage(self.lineage(ref)))

    def card(self, ref: str) -> dict[str, Any]:
        return card_data(self.registry, self.tracking, self.datasets, self.approvals, ref)

    def card_markdown(self, ref: str) -> str:
        return render_markdown(self.card(ref))

    def card_html(self, ref: str) -> str:
        return render_html(self.card(ref))

    def reproduce(
        self,
        ref: str,
        *,
        repository: Path | None = None,
        tolerance: float = 1e-6,
        keep: bool = False,
    ) -> Reproduction:
        """Train `ref` again from its recorded commit, diff, entry point and datasets, and
        compare the new model's predictions with the registered one's."""
        service = ReproductionService(self.registry, self.tracking, self.datasets)
        return service.reproduce(
            ref,
            environment=store_environment(self.stores.settings),
            repository=repository,
            tolerance=tolerance,
            keep=keep,
        )


def store_environment(settings: Settings) -> dict[str, str]:
    """`LOOPML_*` variables that bring a child process to the same stores and identity."""
    env = {
        "LOOPML_STORE_URL": settings.resolved_store_url(),
        "LOOPML_ARTIFACTS_URL": settings.resolved_artifacts_url(),
        "LOOPML_JOURNAL_DIR": str(settings.local_path(settings.journal_dir)),
        "LOOPML_CACHE_DIR": str(settings.local_path(settings.cache_dir)),
    }
    env["LOOPML_AUDIT_KEY_FILE"] = str(settings.local_path(settings.audit_key_file))
    env["LOOPML_AUDIT_ANCHOR_FILE"] = str(settings.local_path(settings.audit_anchor_file))
    if settings.audit_key:
        env["LOOPML_AUDIT_KEY"] = settings.audit_key
    if settings.s3_endpoint_url:
        env["LOOPML_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    if settings.token:
        env["LOOPML_TOKEN"] = settings.token
    return env
