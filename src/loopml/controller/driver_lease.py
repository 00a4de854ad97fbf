"""One driver at a time: the controller lease of several servers on one store.

Each `loopml server` runs a controller loop; with several replicas only the holder of the
lease reconciles. Before each pass a loop calls `hold`, which renews its own lease or
takes one that has expired, in one compare-and-set UPDATE; a replica that dies stops
renewing, and another takes over once `lease_s` has passed. `release` hands it over at
once on a clean stop. A change of holder is written to the audit trail.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, select, update

from loopml.errors import ValidationError
from loopml.governance import append_event
from loopml.store import Stores, dialect_insert
from loopml.store.schema import driver_leases


class DriverLease:
    """The lease called `name`, from the point of view of `owner`."""

    def __init__(
        self, stores: Stores, owner: str, *, lease_s: float = 15.0, name: str = "controller"
    ) -> None:
        if isinstance(lease_s, bool) or not isinstance(lease_s, int | float) or lease_s <= 0:
            raise ValidationError(f"lease_s must be a positive number of seconds, got {lease_s!r}")
        self.stores = stores
        self.engine = stores.engine
        self.owner = owner
        self.lease_s = float(lease_s)
        self.name = name

    def hold(self, now: float | None = None) -> bool:
        """Renew this owner's lease, or take it if it is free or expired; True if held."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            fresh = dialect_insert(self.engine)(driver_leases).values(
                name=self.name, owner=self.owner, expires_at=now + self.lease_s, acquired_at=now
            )
            created = conn.execute(
                fresh.on_conflict_do_nothing(index_elements=["name"]).returning(
                    driver_leases.c.name
                )
            ).first()
            if created is not None:  # the first holder ever
                self._audit(conn, None)
                return True
            current = select(driver_leases.c.owner).where(driver_leases.c.name == self.name)
            if conn.dialect.name != "sqlite":  # SQLite writers are serialised already
                current = current.with_for_update()
            previous = conn.execute(current).scalar()
            mine = driver_leases.c.owner == self.owner
            taken = conn.execute(
                update(driver_leases)
                .where(
                    driver_leases.c.name == self.name,
                    mine | (driver_leases.c.expires_at < now),
                )
                .values(owner=self.owner, expires_at=now + self.lease_s)
            )
            if taken.rowcount != 1:
                return False
            if previous != self.owner:
                conn.execute(
                    update(driver_leases)
                    .where(driver_leases.c.name == self.name)
                    .values(acquired_at=now)
                )
                self._audit(conn, previous)
            return True

    def release(self) -> None:
        """Let another owner take the lease now (if this one holds it)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(driver_leases)
                .where(driver_leases.c.name == self.name, driver_leases.c.owner == self.owner)
                .values(expires_at=0.0)
            )

    def holder(self) -> tuple[str, float] | None:
        """(owner, expires_at) of the lease, or None before anyone took it."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(driver_leases.c.owner, driver_leases.c.expires_at).where(
                    driver_leases.c.name == self.name
                )
            ).first()
        return None if row is None else (str(row[0]), float(row[1]))

    def _audit(self, conn: Connection, previous: str | None) -> None:
        append_event(
            conn,
            self.stores.actor,
            "controller.lease",
            f"controller:{self.name}",
            {"owner": self.owner, "from": previous},
        )
