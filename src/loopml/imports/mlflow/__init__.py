"""`loopml import mlflow`: an MLflow store (its database and artifact root, or a running
server) copied into loopml's runs, artifacts and registry, idempotently."""

from loopml.imports.mlflow.importer import MlflowImporter
from loopml.imports.mlflow.locate import open_source
from loopml.imports.mlflow.summary import ImportSummary

__all__ = ["ImportSummary", "MlflowImporter", "open_source"]
