"""The MLflow REST API subset, served by `loopml server` under the paths the stock MLflow
client calls, over the same domain services as loopml's own routes."""

from loopml.server.mlflow.errors import mlflow_errors
from loopml.server.mlflow.routes import mount

__all__ = ["mlflow_errors", "mount"]
