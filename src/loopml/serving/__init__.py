"""The REST data plane (`loopml serve`): predictions from deployments, with hot swap.

`create_app` builds the app; the modules split it one concern each: parsing (request
layouts), validation (signature checks without pandas), scoring (the predict call),
routing (route tables), watcher (hot swap), batching, shadow, metrics.
"""

from loopml.serving.app import create_app
from loopml.serving.batching import BatchingConfig

__all__ = ["BatchingConfig", "create_app"]
