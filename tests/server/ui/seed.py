"""A small workspace for the UI tests: an experiment of runs with metric curves, a model
with two versions, `champion` protected and a request to move it open."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from loopml.sdk import Client
from tests.server.ui.loop_seed import LoopSeeded, seed_loop

ROLES = ("viewer", "editor", "approver", "admin")


@dataclass(frozen=True)
class Seeded:
    run_ids: list[str]
    request_id: str
    model: str
    tokens: dict[str, str]
    loop: LoopSeeded


def make_tokens(client: Client) -> dict[str, str]:
    """A principal `<role>-ui` and a token for each role, created by the workspace owner."""
    identity = client.models.identity
    tokens = {}
    for role in ROLES:
        identity.create_principal(f"{role}-ui", role)
        tokens[role] = identity.create_token(f"{role}-ui", label="ui tests")
    return tokens


def seed(client: Client, runs: int = 6, steps: int = 50) -> Seeded:
    """Runs `lr-0`… with params lr and depth and curves loss/acc; a principal per role;
    model `bikes` v1 is champion and editor-ui asks to move champion to v2; the rest of
    the loop from loop_seed.py. `client` acts as the workspace owner."""
    run_ids = []
    for i in range(runs):
        lr = round(0.1 * (i + 1), 2)
        with client.start_run("tuning", f"lr-{i}", capture_code=False) as run:
            run.log_params({"lr": lr, "depth": 3 + i % 2})
            for step in range(steps):
                run.log_metric("loss", float(np.exp(-lr * step / 10) + 0.01 * i), step=step)
                run.log_metric("acc", float(1 - np.exp(-lr * step / 10)), step=step)
            run_ids.append(run.id)
    x = pd.DataFrame({"a": np.arange(20.0)})
    client.models.registry.create_model("bikes", protected_aliases=["champion", "staging"])
    with client.start_run("models", "fit", capture_code=False) as run:
        first = run.log_model(LinearRegression().fit(x, x.a), name="bikes", input_example=x)
        second = run.log_model(LinearRegression().fit(x, 2 * x.a), name="bikes", input_example=x)
    client.models.set_policy("bikes", {"auto_approve": True})
    client.models.approvals.request(first.uri, "champion")
    client.models.set_policy("bikes", {"auto_approve": False})
    tokens = make_tokens(client)
    owner = client.stores.identity
    try:
        client.login(tokens["editor"])
        request = client.models.approvals.request(second.uri, "champion", "better fit")
    finally:
        client.stores.identity = owner
    loop = seed_loop(client, tokens["editor"])
    return Seeded(run_ids, request.id, "bikes", tokens, loop)
