"""The `loopml` command: global options, `init`, and the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from loopml.cli.audit import audit_app
from loopml.cli.auth import auth_app
from loopml.cli.context import CliState, refuse_remote
from loopml.cli.controller import CONTROLLER_EPILOG, controller, trigger_app
from loopml.cli.data import data_app
from loopml.cli.deploy import deploy_app
from loopml.cli.deploy_policy import deploy_policy_app
from loopml.cli.deploy_tokens import deploy_token_app
from loopml.cli.experiments import experiments_app
from loopml.cli.export import EXPORT_EPILOG, export
from loopml.cli.features import features_app
from loopml.cli.imports import import_app
from loopml.cli.logs import log_app
from loopml.cli.models import models_app
from loopml.cli.monitor import monitor_app
from loopml.cli.ops import ops_app
from loopml.cli.pipelines import pipeline_app
from loopml.cli.predict import PREDICT_EPILOG, predict
from loopml.cli.render import console, key_value_table, print_error
from loopml.cli.replay import REPLAY_EPILOG, replay
from loopml.cli.reproduce import REPRODUCE_EPILOG, reproduce
from loopml.cli.rollout import rollout_app
from loopml.cli.runs import runs_app
from loopml.cli.serve import SERVE_EPILOG, serve
from loopml.cli.server import SERVER_EPILOG, server
from loopml.cli.webhooks import webhook_app
from loopml.config import CONFIG_FILE, WORKSPACE_DIR, init_workspace
from loopml.errors import LoopmlError, ValidationError
from loopml.sdk.client import connect
from loopml.version import __version__

USER_ERROR_EXIT = 2
LOOP_ORDER = (
    "init",
    "data",
    "features",
    "runs",
    "experiments",
    "pipeline",
    "models",
    "deploy",
    "serve",
    "predict",
    "export",
    "reproduce",
    "monitor",
    "trigger",
    "rollout",
    "controller",
    "auth",
    "audit",
    "server",
)


class LoopmlGroup(TyperGroup):
    """The root group: a loopml error (or a refused file operation) ends the command with
    one red line on stderr and exit code 2, never a traceback."""

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        """Commands in the order of the loop a newcomer walks through, not of registration."""
        known = super().list_commands(ctx)
        ordered = [name for name in LOOP_ORDER if name in known]
        return ordered + [name for name in known if name not in ordered]

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (LoopmlError, OSError) as exc:
            print_error(str(exc))
            raise typer.Exit(USER_ERROR_EXIT) from exc


app = typer.Typer(
    cls=LoopmlGroup,
    name="loopml",
    epilog=(
        "Start with [bold]loopml init[/bold], then [bold]loopml data add NAME FILE[/bold]; "
        "[bold]make demo[/bold] in the source tree runs the whole loop. "
        "Store locations come from loopml.toml, overridden by LOOPML_STORE_URL and "
        "LOOPML_ARTIFACTS_URL. Act as another principal with --token or LOOPML_TOKEN. "
        "With --server URL or LOOPML_SERVER_URL (and a token), commands go through a "
        "loopml server instead of a workspace."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_app, name="data")
app.add_typer(runs_app, name="runs")
app.add_typer(experiments_app, name="experiments")
app.add_typer(models_app, name="models")
app.add_typer(auth_app, name="auth")
app.add_typer(audit_app, name="audit")
deploy_app.add_typer(deploy_token_app, name="token")
deploy_app.add_typer(deploy_policy_app, name="policy")
app.add_typer(deploy_app, name="deploy")
app.add_typer(monitor_app, name="monitor")
app.add_typer(log_app, name="log")
app.add_typer(rollout_app, name="rollout")
app.add_typer(trigger_app, name="trigger")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(features_app, name="features")
app.add_typer(webhook_app, name="webhook")
app.add_typer(ops_app, name="ops")
app.add_typer(import_app, name="import")


def _print_version(show: bool) -> None:
    if show:
        typer.echo(f"loopml {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace folder. Default: the nearest one at or above the current folder.",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Act as the principal of this API token (default: LOOPML_TOKEN, else the "
            "unauthenticated local user).",
            metavar="TOKEN",
            show_default=False,
        ),
    ] = None,
    server_url: Annotated[
        str | None,
        typer.Option(
            "--server",
            help="Work through this loopml server (http://host:8080) with --token or "
            "LOOPML_TOKEN (default: LOOPML_SERVER_URL, unless --workspace is given).",
            metavar="URL",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """loopml: the whole ML loop from the shell: data, runs, models, serving, monitoring."""
    if server_url is not None and workspace is not None:
        raise ValidationError(
            "--server and --workspace name two places to work on; pass one of them"
        )
    ctx.obj = CliState(workspace=workspace, token=token, server=server_url)


@app.command(
    "init",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml init                 (the current folder)\n"
        "  loopml init ~/projects/bikes"
    ),
)
def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Folder to set up (default: --workspace or the current folder).", metavar="PATH"
        ),
    ] = None,
) -> None:
    """Create a workspace: loopml.toml, the .loopml/ folder and an up-to-date store.

    Safe to run again: existing files are kept and the store schema is migrated if needed.
    """
    state = ctx.ensure_object(CliState)
    if path is None or state.server is not None:  # an explicit folder is plainly local
        refuse_remote(ctx)
    root = (path or state.workspace or Path.cwd()).expanduser().resolve()
    existed = {name: (root / name).exists() for name in (CONFIG_FILE, WORKSPACE_DIR)}
    init_workspace(root)
    client = connect(root)
    try:
        store = client.stores.engine.url.render_as_string(hide_password=True)
        artifacts = client.settings.resolved_artifacts_url()
        seal = client.stores.seal
        audit_key = (
            "from the audit_key setting"
            if seal.from_secret
            else f"{seal.key_file} (key {seal.key_id})"
        )
    finally:
        client.close()
    out = console()
    fresh = not all(existed.values())
    out.print(
        Text.assemble(
            ("Initialised " if fresh else "Already a workspace: ", "green"), (str(root), "bold")
        )
    )
    rows: list[tuple[str, str]] = [
        (name if name == CONFIG_FILE else name + "/", "kept" if found else "created")
        for name, found in existed.items()
    ]
    rows += [
        ("store", f"{store} (schema up to date)"),
        ("artifacts", artifacts),
        ("audit key", audit_key),
    ]
    out.print(key_value_table(None, rows))
    if fresh:
        out.print(Text("next: loopml data add NAME PATH", style="dim"))


app.command("predict", epilog=PREDICT_EPILOG)(predict)
app.command("export", epilog=EXPORT_EPILOG)(export)
app.command("reproduce", epilog=REPRODUCE_EPILOG)(reproduce)
app.command("replay", epilog=REPLAY_EPILOG)(replay)
app.command("serve", epilog=SERVE_EPILOG)(serve)
app.command("controller", epilog=CONTROLLER_EPILOG)(controller)
app.command("server", epilog=SERVER_EPILOG)(server)


def run() -> None:
    """Console-script entry point."""
    try:
        app()
    except LoopmlError as exc:  # raised outside a command, e.g. while parsing
        print_error(str(exc))
        raise SystemExit(USER_ERROR_EXIT) from exc
