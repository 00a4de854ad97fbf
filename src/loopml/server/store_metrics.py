"""Gauges read from the store when `/metrics` is scraped: the loop's state, for alerting.

`/metrics` is open (scrapers carry no token), so this reads aggregate counts only — no
names of people, no URLs — straight from the tables, without a principal:

- `loopml_alerts_open{monitor, severity}`: open monitoring alerts.
- `loopml_monitor_overdue_seconds{monitor}`: how late a scheduled monitor's next window is
  (0 when on time); grows when no controller runs the monitors.
- `loopml_rollouts_active{deployment, state}`: 1 per active rollout (running, or awaiting
  approval).
- `loopml_webhook_deliveries{webhook, state}`: deliveries pending, delivered and dead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from loopml.store.schema import alerts, monitors, rollouts, webhook_deliveries, webhooks

log = logging.getLogger("loopml.server")

STORE_GAUGES = (
    "loopml_alerts_open",
    "loopml_monitor_overdue_seconds",
    "loopml_rollouts_active",
    "loopml_webhook_deliveries",
)
ACTIVE_ROLLOUTS = ("running", "awaiting_approval")


class StoreCollector(Collector):
    """Collects the gauges above at each scrape (a few GROUP BY counts)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> list[GaugeMetricFamily]:
        return list(self._families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = self._families()
        try:
            self._fill(*families)
        except Exception:  # a scrape must answer; the store's health is /readyz's job
            log.exception("reading the store for /metrics failed")
        yield from families

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "loopml_alerts_open", "Open monitoring alerts.", labels=["monitor", "severity"]
            ),
            GaugeMetricFamily(
                "loopml_monitor_overdue_seconds",
                "Seconds a scheduled monitor's next window is late (0 when on time).",
                labels=["monitor"],
            ),
            GaugeMetricFamily(
                "loopml_rollouts_active",
                "Active rollouts (1 each), by deployment and state.",
                labels=["deployment", "state"],
            ),
            GaugeMetricFamily(
                "loopml_webhook_deliveries",
                "Webhook deliveries by webhook and state (pending, delivered, dead).",
                labels=["webhook", "state"],
            ),
        )

    def _fill(
        self,
        open_alerts: GaugeMetricFamily,
        overdue: GaugeMetricFamily,
        active: GaugeMetricFamily,
        deliveries: GaugeMetricFamily,
    ) -> None:
        now = time.time()
        with self.engine.connect() as conn:
            for monitor, severity, count in conn.execute(
                select(alerts.c.monitor, alerts.c.severity, func.count())
                .where(alerts.c.state == "open")
                .group_by(alerts.c.monitor, alerts.c.severity)
            ):
                open_alerts.add_metric([monitor, severity], float(count))
            for name, due in conn.execute(
                select(monitors.c.name, monitors.c.next_run_at).where(
                    monitors.c.next_run_at.is_not(None)
                )
            ):
                overdue.add_metric([name], max(0.0, now - float(due)))
            for deployment, state in conn.execute(
                select(rollouts.c.deployment, rollouts.c.state).where(
                    rollouts.c.state.in_(ACTIVE_ROLLOUTS)
                )
            ):
                active.add_metric([deployment, state], 1.0)
            for name, state, count in conn.execute(
                select(webhooks.c.name, webhook_deliveries.c.state, func.count())
                .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
                .group_by(webhooks.c.name, webhook_deliveries.c.state)
            ):
                deliveries.add_metric([name, state], float(count))
