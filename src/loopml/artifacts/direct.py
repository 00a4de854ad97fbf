"""Direct transfers with an S3 bucket: presigned URLs, and the adoption of uploaded objects.

A client holding a presigned PUT URL writes one staging object and nothing else (the
signature covers the bucket, the key and the expiry). Its bytes become a blob only after
`adopt`: the object is first copied to a key no URL can write, so the bytes hashed are the
bytes kept even if the URL is used again meanwhile; then its size and BLAKE3 hash are
checked against what the client announced, and only then is it copied under its digest.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from loopml.artifacts.hashing import HASH_CHUNK_SIZE, new_hasher
from loopml.artifacts.s3 import S3BlobBackend
from loopml.artifacts.store import ArtifactRef, ArtifactStore
from loopml.errors import ArtifactCorruptedError, ConfigError, NotFoundError, ValidationError

MAX_SINGLE_PUT = 5 * 1024**3  # S3's limit for one PUT; larger files go through the server
_SCOPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class SignedUrl:
    """A URL the client calls as is (method, headers) until `expires_at` (Unix time)."""

    method: str
    url: str
    headers: dict[str, str]
    expires_at: float


class DirectTransfers:
    """Presigned URLs for the blobs and staging objects of an S3-backed artifact store."""

    def __init__(self, store: ArtifactStore, endpoint_url: str | None, expiry_s: int) -> None:
        backend = store.backend
        if not isinstance(backend, S3BlobBackend):
            raise ConfigError(
                f"presigned URLs need an s3:// artifact store, not {backend.url}; "
                "set presigned_urls = false"
            )
        if expiry_s < 1 or expiry_s > 7 * 24 * 3600:
            raise ConfigError(f"presigned_url_expiry_s must be 1..604800, got {expiry_s}")
        self.store = store
        self.backend = backend
        self.expiry_s = expiry_s
        self._bucket, _, self._prefix = backend.url.removeprefix("s3://").partition("/")
        self._client = _client(endpoint_url)

    # ------------------------------------------------------------------ keys
    def _object(self, key: str) -> str:
        return f"{self._prefix}/{key}" if self._prefix else key

    def staging_key(self, scope: str, upload_id: str) -> str:
        """Where the upload `upload_id` of `scope` (a run id) is written by the client."""
        for part in (scope, upload_id):
            if not part or not set(part) <= _SCOPE_CHARS or len(part) > 100:
                raise ValidationError(f"{part!r} is not a valid upload scope or id")
        return f"staging/{scope}/{upload_id}"

    def _blob_key(self, digest: str) -> str:
        return f"blobs/{digest[:2]}/{digest[2:]}"

    # ------------------------------------------------------------------ URLs
    def _sign(self, method: str, key: str, **params: Any) -> SignedUrl:
        client_method = {"PUT": "put_object", "GET": "get_object"}[method]
        try:
            url = self._client.generate_presigned_url(
                client_method,
                Params={"Bucket": self._bucket, "Key": self._object(key), **params},
                ExpiresIn=self.expiry_s,
            )
        except Exception as exc:  # botocore's errors: no credentials, mostly
            raise ConfigError(f"cannot sign S3 URLs: {exc}") from exc
        return SignedUrl(method, str(url), {}, time.time() + self.expiry_s)

    def upload_url(self, scope: str, upload_id: str) -> SignedUrl:
        """A PUT URL for the staging object of one upload (and no other key)."""
        return self._sign("PUT", self.staging_key(scope, upload_id))

    def download_url(self, digest: str) -> SignedUrl:
        """A GET URL for a stored blob (the client checks the bytes against `digest`)."""
        if not self.store.exists(digest):
            raise NotFoundError(f"artifact {digest} is not in the store at {self.backend.url}")
        return self._sign("GET", self._blob_key(digest))

    # ------------------------------------------------------------------ adoption
    def adopt(self, scope: str, upload_id: str, digest: str, size: int) -> ArtifactRef:
        """The uploaded object as blob `digest`, or ArtifactCorruptedError when its bytes
        are not `size` bytes hashing to `digest` (nothing is kept then)."""
        staged = self._object(self.staging_key(scope, upload_id))
        private = self._object(f"verifying/{uuid.uuid4().hex}")
        try:
            self._copy(staged, private)
        except Exception as exc:  # botocore's ClientError, imported with botocore only
            if _error_code(exc) not in ("NoSuchKey", "404", "NotFound"):
                raise
            raise NotFoundError(
                f"upload {upload_id} has no object in the bucket: PUT the file to the URL "
                "the server gave, then commit"
            ) from exc
        finally:
            self._client.delete_object(Bucket=self._bucket, Key=staged)
        try:
            found_size, found = self._hash(private)
            if found_size != size:
                raise ArtifactCorruptedError(
                    f"the uploaded object has {found_size} bytes, not {size} as announced"
                )
            if found != digest:
                raise ArtifactCorruptedError(
                    f"the uploaded object's BLAKE3 digest is {found}, not {digest} as announced"
                )
            if not self.backend.exists(digest):
                self._copy(private, self._object(self._blob_key(digest)))
        finally:
            self._client.delete_object(Bucket=self._bucket, Key=private)
        return ArtifactRef(digest, size)

    def _copy(self, source: str, target: str) -> None:
        """One server-side copy (S3 copies up to 5 GiB in one request; no bytes here)."""
        self._client.copy_object(
            Bucket=self._bucket, Key=target, CopySource={"Bucket": self._bucket, "Key": source}
        )

    def _hash(self, key: str) -> tuple[int, str]:
        """Size and BLAKE3 of an object, read as one stream in chunks (flat memory)."""
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
        hasher = new_hasher(parallel=True)
        size = 0
        try:
            while chunk := body.read(HASH_CHUNK_SIZE):
                hasher.update(chunk)
                size += len(chunk)
        finally:
            body.close()
        return size, str(hasher.hexdigest())


def _error_code(exc: Exception) -> str:
    """The S3 error code of a botocore ClientError ('' for any other exception)."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _client(endpoint_url: str | None) -> Any:
    """A botocore S3 client: it signs URLs (no request) and copies and reads objects."""
    # Imported here: botocore comes with the s3 extra, which a local store does not need.
    from botocore.config import Config
    from botocore.session import get_session

    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=10,
        read_timeout=900,  # a copy of a few GiB is one request
        retries={"max_attempts": 3, "mode": "standard"},
    )
    try:
        return get_session().create_client("s3", endpoint_url=endpoint_url, config=config)
    except Exception as exc:
        raise ConfigError(f"cannot sign S3 URLs: {exc}") from exc
