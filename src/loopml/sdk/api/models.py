"""The `models` namespace: the registry (models, versions, aliases, lifecycle, policies),
lineage, evaluations and model cards. The local implementation is
`loopml.sdk.models.ModelsAPI`; the remote one `loopml.sdk.remote.registry.RemoteModels`."""

from __future__ import annotations

import builtins
from typing import Any, Protocol

from loopml.registry import ModelVersion, Policy, RegisteredModel
from loopml.store.paging import Page


class Models(Protocol):
    """Registered models and their versions, the same in local and remote mode.

    A `ref` is `model:NAME/VERSION`, `NAME/VERSION`, `NAME@ALIAS`, `NAME` (the latest
    version) or a version id."""

    def list(self) -> builtins.list[RegisteredModel]:
        """Every registered model with its aliases and latest version."""
        ...

    def model(self, name: str) -> RegisteredModel:
        """One registered model."""
        ...

    def versions(
        self, name: str, *, max_results: int = 1000, page_token: str | None = None
    ) -> Page[ModelVersion]:
        """The versions of `name`, oldest first, a page at a time."""
        ...

    def get(self, ref: str) -> ModelVersion:
        """One version by reference."""
        ...

    def register(
        self,
        name: str,
        run_id: str,
        artifact_path: str = "model",
        *,
        description: str | None = None,
        card: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """The model a run logged at `artifact_path`, as the next version of `name`."""
        ...

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point an unprotected alias at a version (protected ones move by approval)."""
        ...

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an unprotected alias."""
        ...

    def set_state(self, ref: str, state: str) -> ModelVersion:
        """Move a version to REGISTERED, DEPRECATED or ARCHIVED."""
        ...

    def policy(self, name: str) -> Policy:
        """The approval policy in force for `name`."""
        ...

    def set_policy(self, name: str, policy: dict[str, Any] | Policy) -> Policy:
        """Replace the approval policy of `name` (admins)."""
        ...

    def lineage(self, ref: str) -> dict[str, Any]:
        """The version's chain: model ← run ← code, environment ← datasets ← parents."""
        ...

    def evaluate(
        self,
        ref: str,
        dataset: str,
        target: str,
        sensitive: builtins.list[str] | None = None,
    ) -> dict[str, Any]:
        """Score a version on a dataset version (and per group of `sensitive` columns);
        the result is stored for cards and approval checks."""
        ...

    def card(self, ref: str) -> dict[str, Any]:
        """The model card as data."""
        ...

    def card_markdown(self, ref: str) -> str:
        """The model card as Markdown."""
        ...

    def card_html(self, ref: str) -> str:
        """The model card as one self-contained HTML page."""
        ...
