"""The package version, in a module of its own so any layer can name it without
importing the `loopml` namespace (which re-exports the SDK)."""

__version__ = "0.1.0"
