"""The shared online store: Redis, one hash per (view, entity key).

Any number of serving replicas read the same values. A write is a small Lua script per row so
that a late row never overwrites a fresher one; a read is one pipeline whatever the number of
views and keys: one network round trip. Many keys are read by a small Lua script rather
than a pipeline of HMGETs: the client builds one command instead of one per key, which is
most of a 100-key read's client time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from loopml.errors import ConfigError
from loopml.features.online.base import (
    Key,
    OnlineCapabilities,
    Row,
    ViewLayout,
    ViewRead,
    decode,
    key_text,
)

# KEYS: one per row; ARGV: per row its event time, its number of set fields, then the
# field/value pairs. A row older than the stored one for its key is skipped.
_UPSERT = """
local at = 1
local written = 0
for i, key in ipairs(KEYS) do
  local ts = ARGV[at]
  local n = tonumber(ARGV[at + 1])
  local current = redis.call('HGET', key, '__ts')
  if not current or tonumber(current) <= tonumber(ts) then
    redis.call('DEL', key)
    local fields = {'__ts', ts}
    for j = 0, 2 * n - 1 do fields[#fields + 1] = ARGV[at + 2 + j] end
    redis.call('HSET', key, unpack(fields))
    written = written + 1
  end
  at = at + 2 + 2 * n
end
return written
"""
# KEYS: every key read; ARGV: per group of keys (one view's), its number of fields, the
# fields, then its number of keys. The answer holds one HMGET reply per key, in order.
_READ = """
local out = {}
local at = 1
local k = 1
while at <= #ARGV do
  local nf = tonumber(ARGV[at])
  local fields = {}
  for j = 1, nf do fields[j] = ARGV[at + j] end
  local nk = tonumber(ARGV[at + nf + 1])
  for _ = 1, nk do
    out[k] = redis.call('HMGET', KEYS[k], unpack(fields))
    k = k + 1
  end
  at = at + nf + 2
end
return out
"""
CHUNK = 500


def _encode(dtype: str, value: Any) -> str | None:
    if value is None:
        return None
    if dtype == "bool":
        return "1" if value else "0"
    if dtype in ("float64", "timestamp"):
        return repr(float(value))
    return str(value)


class RedisOnlineStore:
    capabilities = OnlineCapabilities("redis", shared=True, round_trips_per_read=1)

    def __init__(self, url: str, namespace: str = "loopml") -> None:
        try:
            self.client = redis.Redis.from_url(url)
            self.client.ping()
        except (redis.RedisError, ValueError) as exc:
            raise ConfigError(
                f"cannot reach the Redis online store at {url}: {exc}; check online_store_url"
            ) from exc
        self.namespace = namespace
        self._upsert = self.client.register_script(_UPSERT)
        self._read = self.client.register_script(_READ)

    def _key(self, view: str, key: Key) -> str:
        return f"{self.namespace}:fv:{view}:{key_text(key)}"

    def prepare(self, layout: ViewLayout) -> None:
        """Hashes need no schema."""

    def write(
        self,
        layout: ViewLayout,
        keys: Sequence[Key],
        timestamps: Sequence[float],
        rows: Sequence[Row],
    ) -> int:
        features = layout.features
        written = 0
        for start in range(0, len(keys), CHUNK):
            names: list[str] = []
            args: list[str] = []
            for key, ts, row in zip(
                keys[start : start + CHUNK],
                timestamps[start : start + CHUNK],
                rows[start : start + CHUNK],
                strict=True,
            ):
                pairs: list[str] = []
                for (name, dtype), value in zip(features, row, strict=True):
                    text = _encode(dtype, value)
                    if text is not None:
                        pairs += [name, text]
                names.append(self._key(layout.view, key))
                args += [repr(float(ts)), str(len(pairs) // 2), *pairs]
            self._upsert(keys=names, args=args)
            written += len(names)
        return written

    def read(self, reads: Sequence[ViewRead]) -> list[list[tuple[float, Row] | None]]:
        names: list[str] = []
        args: list[str] = []
        for item in reads:
            names += [self._key(item.layout.view, key) for key in item.keys]
            args += [str(len(item.features) + 1), "__ts", *item.features, str(len(item.keys))]
        if len(names) == 1:  # a single key: a plain HMGET is the cheapest call
            replies = iter([self.client.hmget(names[0], args[1:-1])])
        else:
            replies = iter(self._read(keys=names, args=args) if names else [])
        answers: list[list[tuple[float, Row] | None]] = []
        for item in reads:
            types = dict(item.layout.features)
            dtypes = [types[f] for f in item.features]
            out: list[tuple[float, Row] | None] = []
            for _ in item.keys:
                values = next(replies)
                if values[0] is None:
                    out.append(None)
                    continue
                out.append(
                    (
                        float(values[0]),
                        tuple(decode(t, v) for t, v in zip(dtypes, values[1:], strict=True)),
                    )
                )
            answers.append(out)
        return answers

    def _scan(self, view: str) -> list[bytes]:
        return list(self.client.scan_iter(match=f"{self.namespace}:fv:{view}:*", count=1000))

    def count(self, view: str) -> int:
        return len(self._scan(view))

    def drop(self, view: str) -> None:
        keys = self._scan(view)
        for start in range(0, len(keys), CHUNK):
            self.client.delete(*keys[start : start + CHUNK])

    def close(self) -> None:
        self.client.close()
