"""The typed namespaces of the SDK: each a Protocol with a local and a remote implementation."""
