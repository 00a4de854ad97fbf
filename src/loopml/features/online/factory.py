"""Open the online store a URL names: `sqlite:///PATH` (default) or `redis://HOST:PORT/DB`."""

from __future__ import annotations

from pathlib import Path

from loopml.errors import ConfigError
from loopml.features.online.base import OnlineStore


def open_online_store(url: str, root: Path, namespace: str = "loopml") -> OnlineStore:
    if url.startswith("sqlite:///"):
        from loopml.features.online.sqlite import SQLiteOnlineStore

        path = Path(url[len("sqlite:///") :]).expanduser()
        return SQLiteOnlineStore(path if path.is_absolute() else root / path)
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from loopml.features.online.redis import RedisOnlineStore
        except ImportError as exc:
            raise ConfigError(
                f"online_store_url {url!r} needs the redis client: pip install 'loopml[redis]'"
            ) from exc
        return RedisOnlineStore(url, namespace)
    raise ConfigError(
        f"online_store_url {url!r} is not supported: use sqlite:///PATH or redis://HOST:PORT/DB"
    )
