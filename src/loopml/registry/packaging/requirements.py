"""Default requirements: the installed versions of what a flavor needs, as name==version."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import metadata


def pinned(packages: Iterable[str]) -> list[str]:
    """`name==version` for each installed distribution (bare name if not installed), once."""
    out: dict[str, str] = {}
    for name in packages:
        key = name.lower()
        if key in out:
            continue
        try:
            out[key] = f"{name}=={metadata.version(name)}"
        except metadata.PackageNotFoundError:
            out[key] = name
    return list(out.values())


def distribution_of(cls: type) -> str | None:
    """The installed distribution providing `cls`'s top-level module, if any (not __main__)."""
    top = cls.__module__.split(".")[0]
    found = _distributions().get(top)
    return found[0] if found else None


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())
