"""The `loopml` command-line interface (Typer + rich) over the SDK client."""

from loopml.cli.main import app, run

__all__ = ["app", "run"]
