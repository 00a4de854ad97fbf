"""The code fingerprint of a step: what must change for its cached result to be stale.

The rule: the fingerprint hashes the step function's source, then follows every name the
function's code mentions (globals, attributes of project modules, closure variables,
default values) and adds

- the source of each function or class defined in *project code* — a module whose file
  lies outside the interpreter's standard library and site-packages (and outside loopml
  itself, which is versioned as a package), recursively, so a helper that calls a helper
  is covered;
- the `repr` of module-level constants of plain types (numbers, text, bools, None, and
  tuples/frozensets of those), so `THRESHOLD = 0.5 → 0.6` invalidates the cache.

Limits (documented in docs/pipelines.md): installed libraries count by name only (upgrade
scikit-learn and the cache does not notice); mutable globals (lists, dicts, objects),
files read at run time, environment variables and anything reached dynamically
(`getattr(module, name_in_a_variable)`, `eval`) are not seen. Bump a step parameter or
pass `cache=False` when such a thing matters.
"""

from __future__ import annotations

import inspect
import sys
import sysconfig
import types
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from loopml.artifacts.hashing import new_hasher

_PLAIN = (int, float, complex, str, bytes, bool, type(None))


@lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots |= {sys.prefix, sys.base_prefix, sys.exec_prefix}
    roots.add(str(Path(__file__).resolve().parents[1]))  # loopml itself
    return tuple(sorted(str(Path(r).resolve()) for r in roots))


@lru_cache(maxsize=4096)
def _is_project_file(filename: str) -> bool:
    if not filename or filename.startswith("<"):
        return False
    path = str(Path(filename).resolve())
    return not any(path == r or path.startswith(r + "/") for r in _library_roots())


def is_project_module(module: types.ModuleType | str | None) -> bool:
    """Whether a module is the user's code (not the stdlib, an installed package or loopml)."""
    if isinstance(module, str):
        module = sys.modules.get(module)
    if module is None:
        return False
    filename = getattr(module, "__file__", None)
    return isinstance(filename, str) and _is_project_file(filename)


def code_fingerprint(fn: Callable[..., Any]) -> str:
    """BLAKE3 over the sources `fn` depends on (see the module docstring for the rule)."""
    parts: dict[str, str] = {}
    _visit(getattr(fn, "fn", fn), parts, root=True)
    hasher = new_hasher()
    for name in sorted(parts):
        hasher.update(name.encode() + b"\0" + parts[name].encode() + b"\0")
    return str(hasher.hexdigest())


def _label(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):  # defined in a REPL or built dynamically: hash the bytecode
        code = getattr(obj, "__code__", None)
        return repr(code.co_code) + repr(code.co_consts) if code is not None else repr(obj)


def _visit(obj: Any, parts: dict[str, str], *, root: bool = False) -> None:
    inner = getattr(obj, "fn", None)  # a Step (or anything wrapping a function as .fn)
    if inner is not None and callable(inner) and not isinstance(obj, types.FunctionType):
        obj = inner
    obj = inspect.unwrap(obj) if callable(obj) else obj
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if not isinstance(obj, types.FunctionType | type):
        return
    if not root and not is_project_module(getattr(obj, "__module__", None)):
        return
    label = _label(obj)
    if label in parts:
        return
    parts[label] = _source(obj)
    if isinstance(obj, type):
        for member in vars(obj).values():
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            if isinstance(member, property):
                for accessor in (member.fget, member.fset, member.fdel):
                    if isinstance(accessor, types.FunctionType):
                        _visit_function_names(accessor, parts)
            elif isinstance(member, types.FunctionType):
                _visit_function_names(member, parts)
        return
    _visit_function_names(obj, parts)


def _visit_function_names(fn: types.FunctionType, parts: dict[str, str]) -> None:
    """Follow the names in `fn`'s code, closure and defaults."""
    namespace = fn.__globals__
    names = set(_code_names(fn.__code__))
    for name in sorted(names):
        if name not in namespace:
            continue
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            if is_project_module(value):
                for attr in sorted(names):
                    if hasattr(value, attr):
                        _visit_value(f"{value.__name__}.{attr}", getattr(value, attr), parts)
            continue
        _visit_value(f"{fn.__module__}.{name}", value, parts)
    for cell in fn.__closure__ or ():
        try:
            _visit_value(f"{_label(fn)}.<closure>", cell.cell_contents, parts)
        except ValueError:  # an empty cell
            continue
    for default in (*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()):
        _visit_value(f"{_label(fn)}.<default>", default, parts)


def _visit_value(label: str, value: Any, parts: dict[str, str]) -> None:
    if _is_plain(value):
        parts.setdefault(label, _plain_repr(value))
    else:
        _visit(value, parts)


def _is_plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, tuple | frozenset):
        return all(_is_plain(v) for v in value)
    return False


def _plain_repr(value: Any) -> str:
    """A repr that does not depend on hash randomisation (frozensets are sorted)."""
    if isinstance(value, frozenset):
        return "frozenset(" + repr(sorted(_plain_repr(v) for v in value)) + ")"
    if isinstance(value, tuple):
        return "(" + ", ".join(_plain_repr(v) for v in value) + ",)"
    return repr(value)


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    yield from code.co_freevars
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)
