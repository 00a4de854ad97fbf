"""Migration 0017: triggers made before it get the role of their creator (admin when the
creator is the local user or no longer exists), so the strictest reading applies."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from loopml.store import upgrade_to_head
from loopml.store.migrate import alembic_config


def _trigger(name: str, created_by: str) -> dict[str, object]:
    return {
        "name": name,
        "kind": "dataset",
        "source": '{"dataset": "bikes"}',
        "pipeline": "bikes.pipelines:retrain",
        "params": "{}",
        "cooldown_s": 0.0,
        "enabled": True,
        "cursor": 0.0,
        "created_by": created_by,
        "created_at": 1.0,
        "updated_at": 1.0,
    }


def test_existing_triggers_get_their_creators_role(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "0016")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO principals (id, name, role, disabled, created_by, created_at) "
                "VALUES ('pr-1', 'erin', 'editor', false, 'local:ops', 1.0)"
            )
        )
        for row in (
            _trigger("by-erin", "erin"),
            _trigger("by-local", "local:ops"),
            _trigger("by-gone", "someone-deleted"),
        ):
            conn.execute(
                text(
                    "INSERT INTO triggers (name, kind, source, pipeline, params, cooldown_s, "
                    "enabled, cursor, created_by, created_at, updated_at) VALUES (:name, :kind, "
                    ":source, :pipeline, :params, :cooldown_s, :enabled, :cursor, :created_by, "
                    ":created_at, :updated_at)"
                ),
                row,
            )
    upgrade_to_head(engine)
    with engine.connect() as conn:
        roles = dict(conn.execute(text("SELECT name, created_role FROM triggers")).all())
    assert roles == {"by-erin": "editor", "by-local": "admin", "by-gone": "admin"}

    command.downgrade(alembic_config(engine), "0016")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM triggers")).scalar_one() == 3
