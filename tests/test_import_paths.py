"""`package.module:attr` lookups, shared by `loopml pipeline run` and the controller."""

from __future__ import annotations

import pytest

from loopml.errors import NotFoundError, ValidationError
from loopml.import_paths import resolve_import_path


def test_resolves_nested_attributes() -> None:
    assert resolve_import_path("loopml.import_paths:resolve_import_path") is resolve_import_path
    assert resolve_import_path("os:path.join").__name__ == "join"


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("no-colon", ValidationError, "package.module:attr"),
        ("a:b:c", ValidationError, "package.module:attr"),
        (" :x", ValidationError, "both the module and the attribute"),
        ("no_such_module_xyz:run", NotFoundError, "cannot import 'no_such_module_xyz'"),
        ("os:no_such_attr", NotFoundError, "has no attribute 'no_such_attr'"),
    ],
)
def test_bad_paths_say_what_is_wrong(path: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        resolve_import_path(path)
