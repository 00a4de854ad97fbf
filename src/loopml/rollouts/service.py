"""`RolloutService`: progressive rollouts of a candidate version on a deployment.

A rollout is declared once (`start`) and driven by `advance`, which a controller may call as
often as it likes: each call makes at most one transition, and a call with nothing to do
writes nothing.

Crash safety. A transition first records the rollout's next state together with the routing
that state asks for (`target`, `applied=False`), in one transaction guarded by a
compare-and-set on the row's `revision` and holding the audit event; only then is the
routing applied through `DeploymentService` (its own revision, history and audit), and the
row marked `applied`. A process killed between the two leaves `applied=False`, and the next
`advance` applies the recorded routing (a no-op when it is already live) before anything
else — no step is lost, and the compare-and-set means none is taken twice. A step's hold
starts when its routing is confirmed live. A rollback also calls the candidate off (its
pending champion request closed, `challenger` cleared) as part of applying it, so a crash
in between is repaired the same way.

Traffic policy. Every routing a rollout applies goes through `DeploymentService`, so the
traffic policy admits it or refuses it like any change. A rollout never tries a step the
policy would refuse: its first step must be admitted to start at all, and when a later
step needs more than the candidate qualifies for (under the default policy: more than
50 % before it is champion), the rollout asks for the champion approval instead of
stepping, and promotes once it is given.
"""

from __future__ import annotations

import builtins
import contextlib
import math
import time
from dataclasses import replace
from typing import Any

import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from loopml.data import DatasetService
from loopml.deployments.admission import describe as describe_refusals
from loopml.deployments.records import Deployment, Route, describe
from loopml.deployments.service import RESTORABLE, SERVABLE, DeploymentService, Plan
from loopml.deployments.strategies import smoke_test, without
from loopml.errors import ConflictError, NotFoundError, PolicyViolationError, ValidationError
from loopml.governance import require
from loopml.registry import ApprovalService, RegistryService
from loopml.rollouts.analysis import (
    EstimateStep,
    StepAnalysis,
    analyse_step,
    candidate_traffic,
    traffic_analysis,
)
from loopml.rollouts.approval import (
    APPROVED,
    CHALLENGER,
    PENDING,
    Approval,
    call_off,
    pending_request,
    seek_approval,
    without_approver,
)
from loopml.rollouts.estimate_verdict import EstimatedQuality
from loopml.rollouts.ledger import RolloutLedger
from loopml.rollouts.plan import ASK, ROLLBACK, RolloutPlan
from loopml.rollouts.records import (
    ABORTED,
    AWAITING_APPROVAL,
    PROMOTED,
    ROLLED_BACK,
    RUNNING,
    Rollout,
    RolloutStep,
    Target,
    rollout_from_mapping,
)
from loopml.rollouts.replay import ReplayService, replay_refusal
from loopml.rollouts.step_estimates import EstimateReference, StepEstimates, estimated_quality
from loopml.store import Stores, new_id
from loopml.store.schema import rollouts
from loopml.validation import check_name

FINISHING_ACTIONS = {PROMOTED: "promote", ROLLED_BACK: "rollback", ABORTED: "abort"}


class _AlreadyLive(Exception):
    """The deployment already routes as the rollout asks: nothing to write."""


class RolloutService:
    """Start, advance, abort and read progressive rollouts."""

    def __init__(
        self,
        stores: Stores,
        deployments: DeploymentService,
        registry: RegistryService,
        approvals: ApprovalService,
        datasets: DatasetService | None = None,
    ) -> None:
        self.stores = stores
        self.engine = stores.engine
        self.deployments = deployments
        self.registry = registry
        self.approvals = approvals
        self.ledger = RolloutLedger(stores)
        self.replays = ReplayService(stores, registry, deployments)
        # Plans that judge by estimate read labelled reference data through it.
        self.estimates = StepEstimates(datasets or DatasetService(stores), registry)

    # ------------------------------------------------------------------ start
    def start(
        self,
        deployment: str,
        candidate_ref: str,
        plan: RolloutPlan | dict[str, Any] | None = None,
        *,
        reason: str | None = None,
    ) -> Rollout:
        """Send the first step's share of traffic to `candidate_ref` (for a `(100,)` plan:
        all of it, blue-green, after a smoke test); the stable version is the deployment's
        current primary route."""
        actor = self.stores.actor
        require(actor, "write", "start rollouts")
        check_name("deployment", deployment)
        parsed = RolloutPlan.from_dict(plan)
        _check_reason(reason)
        current = self.deployments.get(deployment)
        with self.engine.connect() as conn:
            self._check_idle(conn, deployment)
        candidate = self._candidate(candidate_ref)
        stable = _stable(current, candidate)
        if parsed.require_replay:
            self._check_replay(deployment, candidate, stable, parsed)
        if parsed.judges_by_estimate:
            parsed = self._pin_reference(parsed, candidate, stable)
        target = _step_target(parsed, 0, stable, candidate)
        refused = self.deployments.traffic_refusals(deployment, target.routes, target.shadows)
        if refused:
            raise PolicyViolationError(
                describe_refusals(refused, "rollout start", deployment)
                + ". A rollout begins with a share the policy admits (e.g. --steps 10,50,100): "
                "a later step that needs the approval waits for it"
            )
        if parsed.blue_green:
            smoke_test(self.registry.load(candidate.uri), candidate.uri)
        now = time.time()
        rollout_id = new_id("ro")
        row = {
            "id": rollout_id,
            "deployment": deployment,
            "candidate": candidate.uri,
            "stable": stable.uri,
            "plan": parsed.to_dict(),
            "state": RUNNING,
            "step": 0,
            "step_started_at": None,
            "target": target.to_dict(),
            "applied": False,
            "approval_id": None,
            "reasons": [reason] if reason else [],
            "revision": 1,
            "active_key": deployment,
            "created_by": actor.name,
            "created_at": now,
            "updated_at": now,
            "finished_at": None,
        }
        try:
            with self.engine.begin() as conn:
                self._check_idle(conn, deployment)
                conn.execute(rollouts.insert().values(**row))
                self.ledger.event(conn, rollout_from_mapping(row), "start", None, now)
        except IntegrityError as exc:  # started concurrently by someone else
            raise _busy(deployment, "another") from exc
        started = self.ledger.by_id(rollout_id)
        try:
            return self._apply(started, now)
        except Exception as exc:  # nothing changed: the rollout ends where it began
            note = f"its first step could not be applied: {exc}"
            self._finish(started, ABORTED, [note], now, keep=self.deployments.get(deployment))
            raise

    # ------------------------------------------------------------------ advance
    def advance(self, deployment: str, now: float | None = None) -> RolloutStep:
        """One idempotent reconcile of the deployment's rollout (see the module docstring)."""
        require(self.stores.actor, "write", f"advance rollouts of {deployment!r}")
        at = _now(now)
        rollout = self.get(deployment)
        if not rollout.applied:
            try:
                return RolloutStep(self._apply(rollout, at), "repair")
            except PolicyViolationError as exc:
                if not rollout.active:  # an admin's routing by hand repairs it
                    raise
                note = f"the traffic policy no longer admits this step: {exc}"
                live = self.deployments.get(deployment)
                return self._end(rollout, ABORTED, [note], at, keep=live)
        if not rollout.active:
            return RolloutStep(rollout, "none")
        live = self.deployments.get(deployment)
        if not rollout.target.matches(live.routes, live.strategy):
            note = (
                f"the routing of deployment {deployment!r} was changed outside the rollout "
                f"(revision {live.revision}: {describe(live.routes)})"
            )
            return self._end(rollout, ABORTED, [note], at, keep=live)
        if rollout.state == AWAITING_APPROVAL:
            return self._promote(rollout, at, None)
        return self._analyse(rollout, at)

    def _analyse(self, rollout: Rollout, now: float) -> RolloutStep:
        plan = rollout.plan
        started = rollout.step_started_at if rollout.step_started_at is not None else now
        held = now - started
        traffic = candidate_traffic(
            self.stores, rollout.deployment, rollout.candidate, started, now
        )
        waiting = []
        if held < plan.hold_s:
            waiting.append(f"hold: {plan.hold_s - held:.0f} s more at {rollout.weight:g}%")
        if traffic.requests < plan.min_requests:
            waiting.append(
                f"requests: {traffic.requests} of {plan.min_requests} to {rollout.candidate}"
            )
        enough = traffic.requests >= plan.min_requests
        if waiting and not enough and plan.timeout_s is not None and held >= plan.timeout_s:
            note = (
                f"step {rollout.step + 1} ({rollout.weight:g}%) timed out: the candidate got "
                f"{traffic.requests} of {plan.min_requests} requests in {plan.timeout_s:g} s"
            )
            return self._end(rollout, ROLLED_BACK, [note], now)
        if waiting and not enough:
            return self._undecided(rollout, now, held, waiting)
        if waiting:  # enough requests, still holding: errors and latency may fail it early
            early = traffic_analysis(plan, traffic, started, now)
            if early.failures:
                return self._end(rollout, ROLLED_BACK, early.failures, now, analysis=early)
            return RolloutStep(rollout, "wait", waiting, early)
        analysis = analyse_step(
            self.stores,
            rollout.deployment,
            candidate=rollout.candidate,
            stable=rollout.stable,
            plan=plan,
            since=started,
            until=now,
            estimate=self._estimate_step(rollout) if plan.judges_by_estimate else None,
        )
        if analysis.failures:
            return self._end(rollout, ROLLED_BACK, analysis.failures, now, analysis=analysis)
        if analysis.undecided:
            return self._undecided(rollout, now, held, analysis.undecided, analysis)
        if rollout.step + 1 < len(plan.steps):
            nxt = rollout.step + 1
            target = _step_target(plan, nxt, rollout.stable_route, rollout.candidate_route)
            refused = self.deployments.traffic_refusals(
                rollout.deployment, target.routes, target.shadows
            )
            if refused:  # more traffic needs the approval: it decides instead of the step
                note = (
                    f"step {rollout.step + 1} ({rollout.weight:g}%) passed; step {nxt + 1} "
                    f"({plan.steps[nxt]:g}%) needs the approval: {'; '.join(refused)}"
                )
                return self._promote(rollout, now, analysis, [note])
            moved = self.ledger.record(
                rollout,
                "step",
                now,
                state=RUNNING,
                step=nxt,
                target=target,
                reasons=[f"step {rollout.step + 1} ({rollout.weight:g}%) passed"],
                analysis=analysis,
            )
            if moved is None:
                return self._lost(rollout)
            return RolloutStep(self._apply(moved, now), "step", analysis=analysis)
        return self._promote(rollout, now, analysis)

    def _undecided(
        self,
        rollout: Rollout,
        now: float,
        held: float,
        reasons: builtins.list[str],
        analysis: StepAnalysis | None = None,
    ) -> RolloutStep:
        """The step cannot be judged yet: wait, or past the plan's deadline, do what its
        `on_undecided` says."""
        plan = rollout.plan
        deadline = plan.decide_within_s
        if deadline is None or held < deadline:
            return RolloutStep(rollout, "wait", reasons, analysis)
        note = (
            f"step {rollout.step + 1} ({rollout.weight:g}%) could not be judged within "
            f"{deadline:g} s: {'; '.join(reasons)}"
        )
        if plan.on_undecided == ROLLBACK:
            return self._end(rollout, ROLLED_BACK, [note], now, analysis)
        if plan.on_undecided == ASK:
            return self._ask(rollout, now, note, reasons, analysis)
        holding = f"undecided past the {deadline:g} s deadline: the plan holds (on_undecided=hold)"
        return RolloutStep(rollout, "wait", [*reasons, holding], analysis)

    def _ask(
        self,
        rollout: Rollout,
        now: float,
        note: str,
        reasons: builtins.list[str],
        analysis: StepAnalysis | None,
    ) -> RolloutStep:
        """An approver decides an undecided step: approved → promoted, rejected → rolled
        back. Never when the champion would move with no person deciding: then it holds."""
        nobody = without_approver(self.registry, rollout.candidate_route)
        if nobody is not None:
            holding = f"on_undecided=ask, but {nobody}: holding until the step can be judged"
            return RolloutStep(rollout, "wait", [*reasons, holding], analysis)
        approval = seek_approval(
            self.registry,
            self.approvals,
            rollout.candidate_route,
            request_id=None,
            since=rollout.created_at,
            reason=f"rollout {rollout.id} of {rollout.candidate} on {rollout.deployment}: "
            f"{note}; approve to promote it, reject to roll it back",
        )
        if approval.status == APPROVED:
            return self._promoted(
                rollout, now, [note, approval.message], analysis, approval.request_id
            )
        if approval.status != PENDING:
            return self._end(
                rollout, ROLLED_BACK, [note, approval.message], now, analysis, approval.request_id
            )
        asked = self.ledger.record(
            rollout,
            "step",
            now,
            state=AWAITING_APPROVAL,
            step=rollout.step,
            target=rollout.target,
            reasons=[note, approval.message],
            analysis=analysis,
            approval_id=approval.request_id,
            applied=True,
        )
        if asked is None:
            return self._lost(rollout)
        return RolloutStep(asked, "step", [approval.message], analysis)

    def _promote(
        self,
        rollout: Rollout,
        now: float,
        analysis: StepAnalysis | None,
        notes: builtins.list[str] | None = None,
    ) -> RolloutStep:
        """Every step passed (or the next one needs the approval the traffic policy asks
        for): move champion through the approval rules, then route 100 %."""
        notes = notes or []
        approval = seek_approval(
            self.registry,
            self.approvals,
            rollout.candidate_route,
            request_id=rollout.approval_id,
            since=rollout.created_at,
            reason=f"rollout {rollout.id} of {rollout.candidate} on {rollout.deployment} "
            "passed every step",
        )
        if approval.status == APPROVED:
            return self._promoted(
                rollout, now, [*notes, approval.message], analysis, approval.request_id
            )
        if approval.status == PENDING:
            return self._await(rollout, now, [*notes, approval.message], analysis, approval)
        return self._end(
            rollout, ROLLED_BACK, [*notes, approval.message], now, analysis, approval.request_id
        )

    def _await(
        self,
        rollout: Rollout,
        now: float,
        reasons: builtins.list[str],
        analysis: StepAnalysis | None,
        approval: Approval,
    ) -> RolloutStep:
        """Hold traffic at the current step until the approval (or the policy) allows more."""
        if rollout.state == AWAITING_APPROVAL and rollout.approval_id == approval.request_id:
            return RolloutStep(rollout, "wait", reasons[-1:], analysis)
        waiting = self.ledger.record(
            rollout,
            "step",
            now,
            state=AWAITING_APPROVAL,
            step=rollout.step,
            target=rollout.target,
            reasons=reasons,
            analysis=analysis,
            approval_id=approval.request_id,
            applied=True,
        )
        if waiting is None:
            return self._lost(rollout)
        return RolloutStep(waiting, "step", reasons[-1:], analysis)

    def _promoted(
        self,
        rollout: Rollout,
        now: float,
        reasons: builtins.list[str],
        analysis: StepAnalysis | None,
        request_id: str | None,
    ) -> RolloutStep:
        """Champion moved: route 100 % to the candidate once the traffic policy admits it
        (it does when champion is protected; otherwise the rollout holds and says why)."""
        full = [rollout.candidate_route.with_weight(100.0)]
        refused = self.deployments.traffic_refusals(rollout.deployment, full)
        if refused:
            note = f"approved, but {'; '.join(refused)}"
            return self._await(
                rollout, now, [*reasons, note], analysis, Approval(PENDING, request_id, note)
            )
        return self._end(rollout, PROMOTED, reasons, now, analysis, request_id)

    # ------------------------------------------------------------------ abort
    def abort(self, deployment: str, reason: str) -> Rollout:
        """Stop the deployment's active rollout and send all traffic back to the stable."""
        require(self.stores.actor, "write", f"abort rollouts of {deployment!r}")
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("say why the rollout is aborted: reason must be a sentence")
        rollout = self.get(deployment)
        if not rollout.active:
            raise ConflictError(
                f"rollout {rollout.id} of {deployment!r} already finished ({rollout.state}); "
                "there is nothing to abort"
            )
        step = self._end(rollout, ABORTED, [reason.strip()], _now(None))
        if step.action == "wait":
            raise ConflictError(
                f"rollout {rollout.id} changed while it was being aborted; "
                "check `loopml rollout status` and try again"
            )
        return step.rollout

    # ------------------------------------------------------------------ reads
    # ------------------------------------------------------------------ reads
    def get(self, deployment: str) -> Rollout:
        """The deployment's current rollout, or its last one when none is active."""
        found = self.ledger.latest(deployment)
        if found is None:
            self.deployments.get(deployment)  # an unknown deployment says so
            raise NotFoundError(
                f"deployment {deployment!r} has no rollout; start one with "
                f"`loopml rollout start {deployment} MODEL_REF`"
            )
        return found

    def list(
        self, state: str | None = None, *, deployment: str | None = None
    ) -> builtins.list[Rollout]:
        """Rollouts oldest first; `state` keeps one state (or "active": running or awaiting
        approval)."""
        return self.ledger.list(state, deployment=deployment)

    def due(self) -> builtins.list[Rollout]:
        """What a controller should `advance`: active rollouts, and finished ones whose last
        routing change has not reached the deployment yet."""
        return self.ledger.due()

    def history(self, rollout_id: str) -> builtins.list[dict[str, Any]]:
        """Every transition oldest first: action, state, step, weight, analysis, reasons."""
        return self.ledger.history(rollout_id)

    # ------------------------------------------------------------------ internals
    def _check_idle(self, conn: Connection, deployment: str) -> None:
        active = self.ledger.active_id(conn, deployment)
        if active is not None:
            raise _busy(deployment, active)

    def _check_replay(
        self, deployment: str, candidate: Route, stable: Route, plan: RolloutPlan
    ) -> None:
        replays = self.replays.latest(candidate.uri, deployment)
        why = replay_refusal(replays, stable.uri, plan.replay_max_age_s, time.time())
        if why is not None:
            raise PolicyViolationError(
                f"the rollout plan requires a passing replay of {candidate.uri} on "
                f"{deployment!r}, and {why}; run `loopml replay {candidate.uri} --deployment "
                f"{deployment} --window 7d`"
            )

    def _pin_reference(self, plan: RolloutPlan, candidate: Route, stable: Route) -> RolloutPlan:
        """Find the estimate's reference and fit both sides on it now, so a plan that cannot
        be estimated is refused at start; the plan keeps the exact version it resolved to."""
        version = self.registry.get_version(candidate.uri)
        reference = self.estimates.reference(plan, version)
        for route in (candidate, stable):
            self.estimates.fitted(self.registry.get_version(route.uri), reference)
        return replace(
            plan, estimate_reference=reference.dataset.uri, estimate_target=reference.target
        )

    def _estimate_step(self, rollout: Rollout) -> EstimateStep:
        """How a step of `rollout` is estimated: its pinned reference, both sides."""
        plan = rollout.plan

        def estimate(served: pd.DataFrame, compared: pd.DataFrame) -> EstimatedQuality:
            reference = EstimateReference(
                self.estimates.datasets.get(str(plan.estimate_reference)),
                str(plan.estimate_target),
            )
            return estimated_quality(
                self.estimates,
                plan,
                self.registry.get_version(rollout.candidate),
                self.registry.get_version(rollout.stable),
                reference,
                served,
                compared,
            )

        return estimate

    def _candidate(self, ref: str) -> Route:
        if not isinstance(ref, str) or not ref.strip():
            raise ValidationError(
                f"candidate must be a model reference like model:bikes/4, got {ref!r}"
            )
        version = self.registry.get_version(ref.strip())
        if version.state != "REGISTERED":
            raise ValidationError(
                f"{version.uri} is {version.state}; only REGISTERED versions can be rolled out"
            )
        return Route(version.model, version.version)

    def _end(
        self,
        rollout: Rollout,
        state: str,
        reasons: builtins.list[str],
        now: float,
        analysis: StepAnalysis | None = None,
        approval_id: str | None = None,
        *,
        keep: Deployment | None = None,
    ) -> RolloutStep:
        """Finish the rollout: promoted (candidate 100 %), rolled back or aborted (stable
        100 %); `keep` leaves the deployment's routing as it is."""
        action = FINISHING_ACTIONS[state]
        finished = self._finish(rollout, state, reasons, now, analysis, approval_id, keep)
        if finished is None:
            return self._lost(rollout)
        return RolloutStep(self._apply(finished, now), action, analysis=analysis)

    def _finish(
        self,
        rollout: Rollout,
        state: str,
        reasons: builtins.list[str],
        now: float,
        analysis: StepAnalysis | None = None,
        approval_id: str | None = None,
        keep: Deployment | None = None,
    ) -> Rollout | None:
        action = FINISHING_ACTIONS[state]
        if keep is not None:
            target = Target(keep.routes, keep.strategy, keep.shadows)
        else:
            winner = rollout.candidate_route if state == PROMOTED else rollout.stable_route
            target = Target([winner], "single")
        if state == ROLLED_BACK:
            reasons = [*reasons, *self._calling_off(rollout)]
        return self.ledger.record(
            rollout,
            action,
            now,
            state=state,
            step=rollout.step,
            target=target,
            reasons=reasons,
            analysis=analysis,
            approval_id=approval_id or rollout.approval_id,
            applied=keep is not None,
        )

    def _apply(self, rollout: Rollout, now: float) -> Rollout:
        """Make the deployment route as `rollout.target` says (skipped when it already
        does), then mark the row applied; a step's hold starts here."""
        target = rollout.target
        # The stable's mirror is the rollout's own: it ends with the rollout.
        stable = rollout.stable_route.key
        kept = {r.key for r in target.shadows}
        dropped = [stable] if not rollout.active and stable not in kept else []

        def plan(current: Deployment) -> Plan:
            # Checked under the deployment's row lock: a routing already live is not written
            # again, even when two controllers repair the same rollout at once.
            stale = [s for s in current.shadows if s.key in dropped]
            if (
                target.matches(current.routes, current.strategy)
                and target.mirrored_by(current.shadows)
                and not stale
            ):
                raise _AlreadyLive
            keys = [r.key for r in [*target.routes, *target.shadows]] + dropped
            return Plan(
                routes=target.routes,
                shadows=[*without(current.shadows, *keys), *target.shadows],
                strategy=target.strategy,
                sticky_key=current.sticky_key,
            )

        back = rollout.state in (ROLLED_BACK, ABORTED)
        with contextlib.suppress(_AlreadyLive):
            self.deployments._change(  # the package's own locked read-modify-write
                rollout.deployment,
                plan,
                operation="rollback" if back else "rollout",
                reason=f"rollout {rollout.id}: {_describe_state(rollout)}",
                servable=RESTORABLE if back else SERVABLE,
            )
        if rollout.state == ROLLED_BACK:
            reason = f"rollout {rollout.id} rolled back: {'; '.join(rollout.reasons)}"
            call_off(self.registry, self.approvals, rollout.candidate_route, reason)
        return self.ledger.mark_applied(rollout, now)

    def _calling_off(self, rollout: Rollout) -> builtins.list[str]:
        """What a rollback of `rollout` will call off, said in its reasons."""
        candidate = rollout.candidate_route
        notes = []
        request = pending_request(self.approvals, candidate)
        if request is not None:
            notes.append(f"approval request {request.id} (champion → {candidate.uri}) is closed")
        if self.registry.get_model(candidate.model).aliases.get(CHALLENGER) == candidate.version:
            notes.append(f"{candidate.model}@{CHALLENGER} no longer points at {candidate.uri}")
        return notes

    def _lost(self, rollout: Rollout) -> RolloutStep:
        current = self.ledger.by_id(rollout.id)
        note = f"rollout {rollout.id} was advanced concurrently (now revision {current.revision})"
        return RolloutStep(current, "wait", [note])


def _stable(current: Deployment, candidate: Route) -> Route:
    """The route the candidate replaces: the heaviest other route, which must be the only
    other one."""
    others = [r for r in current.routes if r.key != candidate.key]
    if not others:
        raise ValidationError(
            f"{candidate.uri} already serves all traffic of deployment {current.name!r}; "
            "roll out a different version"
        )
    if len(others) > 1:
        raise ValidationError(
            f"deployment {current.name!r} splits traffic between {describe(current.routes)}; a "
            "rollout moves traffic from one stable version to the candidate — settle the "
            f"split first (`loopml deploy promote {current.name} MODEL_REF`)"
        )
    return Route(others[0].model, others[0].version)


def _step_target(plan: RolloutPlan, step: int, stable: Route, candidate: Route) -> Target:
    """A step's routing; at 100 % the stable keeps answering a mirrored copy of every request
    when quality is judged, so both are scored on the same requests."""
    weight = plan.steps[step]
    if weight >= 100:
        mirror = [stable.with_weight(100.0)] if plan.max_accuracy_drop is not None else []
        return Target([candidate.with_weight(100.0)], "blue-green", mirror)
    return Target([stable.with_weight(100.0 - weight), candidate.with_weight(weight)], "canary")


def _describe_state(rollout: Rollout) -> str:
    if rollout.state == RUNNING:
        return f"step {rollout.step + 1}/{len(rollout.plan.steps)} ({rollout.weight:g}%)"
    return rollout.state.replace("_", " ")


def _check_reason(reason: str | None) -> None:
    if reason is not None and not isinstance(reason, str):
        raise ValidationError(f"reason must be text, got {type(reason).__name__}")


def _now(now: float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
        raise ValidationError(f"now must be epoch seconds, got {now!r}")
    return float(now)


def _busy(deployment: str, rollout_id: str) -> ConflictError:
    return ConflictError(
        f"deployment {deployment!r} already has an active rollout ({rollout_id}); wait for it "
        f"to finish or stop it with `loopml rollout abort {deployment} --reason ...`"
    )
