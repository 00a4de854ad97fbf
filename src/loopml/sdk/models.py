"""The registry half of the SDK: packaging a run's model, registering, promoting, cards."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.config.settings import Settings
from loopml.data import DatasetService
from loopml.errors import ValidationError
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
from loopml.registry.packaging import (
    MAX_CATEGORIES,
    ColumnFacts,
    Signature,
    facts_from_frame,
    facts_from_profile,
    infer_signature,
    probe_missing,
    save_model,
    with_missing_probe,
    with_training_facts,
)
from loopml.registry.packaging.flavors import pick_flavor
from loopml.registry.reproduction import Reproduction, ReproductionService
from loopml.store import Stores
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
        """Save, log as run artifacts, and (with `register`) register as `name`.

        The signature's types come from `input_example`; which columns may be empty, numeric
        ranges and string levels from the training data: `training_data` (a frame or a
        dataset reference), else the dataset the run took as input (role `training`, then
        `read`) that has the example's columns. Whether the model takes a missing value in
        each column is tried on a copy of the example.
        """
        if register and name is None:
            raise ValidationError("register=True needs a model name: log_model(model, name=...)")
        example = None
        if input_example is None and isinstance(training_data, pd.DataFrame):
            input_example = training_data.head(5)
        if input_example is not None:
            frame = input_example
            if signature is None:
                signature = self._signature(run, model, frame, training_data, flavor)
            example = frame.head(5) if isinstance(frame, pd.DataFrame) else frame
        with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
            folder = Path(tmp) / "model"
            save_model(
                model,
                folder,
                flavor=flavor,
                signature=signature,
                input_example=example if isinstance(example, pd.DataFrame) else None,
            )
            paths = run.log_artifact(folder, name=artifact_path)
        if not register:
            return paths
        assert name is not None
        run.flush()  # the version's metrics snapshot must include what was logged so far
        return self.registry.register_version(
            name, run.id, artifact_path, description=description, card=card
        )

    def _signature(
        self,
        run: Run,
        model: Any,
        frame: Any,
        training_data: pd.DataFrame | str | None,
        flavor: str | None = None,
    ) -> Signature:
        predicts = hasattr(model, "predict")
        if predicts:  # as the flavor will call it (a native booster takes no DataFrame)
            predict = pick_flavor(model, flavor).wrap(model).predict
        inferred = infer_signature(frame, predict(frame[:200]) if predicts else None)
        if not isinstance(frame, pd.DataFrame):
            return inferred
        facts = self._training_facts(run, training_data, inferred.input_names)
        if facts:
            inferred = with_training_facts(inferred, facts)
        if predicts:
            inferred = with_missing_probe(inferred, probe_missing(predict, frame))
        return inferred

    def _training_facts(
        self, run: Run, training_data: pd.DataFrame | str | None, names: list[str]
    ) -> dict[str, ColumnFacts]:
        """Facts of the example's columns over the training data ({} when none is known)."""
        if isinstance(training_data, pd.DataFrame):
            present = [n for n in names if n in training_data.columns]
            return facts_from_frame(training_data[present], MAX_CATEGORIES)
        ref = training_data if training_data is not None else self._input_dataset(run, names)
        if ref is None:
            return {}
        version = self.datasets.get(ref)
        present = [n for n in names if n in version.columns]
        profile = {n: version.profile[n] for n in present if n in version.profile}
        facts = facts_from_profile(profile, version.row_count)
        # Levels beyond the profile's top values: read those columns only.
        strings = [n for n in present if facts.get(n) is not None and facts[n].categories is None]
        strings = [n for n in strings if version.profile[n].get("kind") == "categorical"]
        if strings:
            facts.update(facts_from_frame(self.datasets.load(version, strings), MAX_CATEGORIES))
        return facts

    def _input_dataset(self, run: Run, names: list[str]) -> str | None:
        """The run's input dataset with every one of `names`: role `training` first."""
        inputs = run.record().inputs
        for role in ("training", "read"):
            for item in inputs:
                if item.get("role") != role:
                    continue
                version = self.datasets.get(item["id"])
                if set(names) <= set(version.columns):
                    return version.id
        return None

    # ------------------------------------------------------------------ shortcuts
    def register(
        self, name: str, run_id: str, artifact_path: str = "model", **kwargs: Any
    ) -> ModelVersion:
        return self.registry.register_version(name, run_id, artifact_path, **kwargs)

    def get(self, ref: str) -> ModelVersion:
        return self.registry.get_version(ref)

    def model(self, name: str) -> RegisteredModel:
        return self.registry.get_model(name)

    def load(self, ref: str) -> LoadedModel:
        return self.registry.load(ref)

    def request(
        self, ref: str, alias: str = "champion", reason: str | None = None
    ) -> ApprovalRequest:
        return self.approvals.request(ref, alias, reason)

    def set_policy(self, name: str, policy: dict[str, Any] | Policy) -> Policy:
        return self.registry.set_policy(name, policy)

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
