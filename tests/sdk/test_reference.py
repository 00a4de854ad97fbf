"""docs/sdk.md names every public name of the SDK, so no function is undocumented."""

from __future__ import annotations

import inspect
from pathlib import Path

import loopml
from loopml.sdk import Client
from loopml.sdk.models import ModelsAPI
from loopml.tracking import Run

DOC = (Path(__file__).resolve().parents[2] / "docs" / "sdk.md").read_text()


def _public(cls: type) -> list[str]:
    return [n for n, _ in inspect.getmembers(cls) if not n.startswith("_")]


def test_every_module_level_name_is_documented() -> None:
    missing = [n for n in loopml.__all__ if n not in DOC]
    assert not missing, f"docs/sdk.md does not mention {missing}"


def test_every_client_method_and_service_is_documented() -> None:
    services = ["datasets", "tracking", "models", "deployments", "rollouts", "monitors"]
    names = [*_public(Client), *services, "triggers", "stores"]
    missing = [
        n for n in names if not any(f in DOC for f in (f"client.{n}", f"`{n}", f"loopml.{n}"))
    ]
    assert not missing, f"docs/sdk.md does not mention Client.{missing}"


def test_every_models_and_run_method_is_documented() -> None:
    missing = [n for n in [*_public(ModelsAPI), *_public(Run)] if f"`{n}" not in DOC]
    assert not missing, f"docs/sdk.md does not mention {missing}"
