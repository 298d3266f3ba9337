"""The S3 backend of `storage.ObjectStore`: objects in `S3_BUCKET` through boto3.

Works with AWS S3 and S3-compatible stores (MinIO, moto's server in the tests) through
`S3_ENDPOINT_URL`. Downloads are presigned GET URLs (`S3_PRESIGN_TTL_SECONDS`) that carry the
Content-Type and Content-Disposition the app would send, signed for `S3_PUBLIC_ENDPOINT_URL`
when browsers reach the store under another name than the app does. Signing needs no request.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from pathlib import Path
from typing import IO, Any, cast

import boto3  # type: ignore[import-untyped]
from boto3.exceptions import Boto3Error  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from saas_app.services.core.storage import Download, ObjectStore, StorageUnavailable, check_key
from saas_app.settings import Settings, get_settings

log = logging.getLogger(__name__)
_MISSING = {"404", "NoSuchKey", "NotFound"}
_DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys


@functools.lru_cache(maxsize=8)
def _client(pid: int, endpoint: str, settings: tuple[str, str, str, str]) -> Any:
    """A boto3 S3 client per process (a forked work-horse makes its own) and endpoint."""
    region, key_id, secret, style = settings
    config = Config(signature_version="s3v4", s3={"addressing_style": style}, connect_timeout=5, read_timeout=60,
                    retries={"max_attempts": 3, "mode": "standard"},
                    # Only the checksums S3 requires: S3-compatible stores may not know the newer ones.
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    credentials = {"aws_access_key_id": key_id, "aws_secret_access_key": secret} if key_id and secret else {}
    return boto3.session.Session().client("s3", endpoint_url=endpoint or None, region_name=region,
                                          config=config, **credentials)


def _client_for(settings: Settings, endpoint: str) -> Any:
    return _client(os.getpid(), endpoint, (settings.S3_REGION, settings.S3_ACCESS_KEY_ID,
                                           settings.S3_SECRET_ACCESS_KEY, settings.S3_ADDRESSING_STYLE))


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def _s3_errors(action: str, key: str) -> Any:
    """Turn boto3's errors into `StorageUnavailable` (logged with their details)."""
    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error) as exc:  # Boto3Error: upload_file's own wrapper
        log.error("object storage: %s %s failed: %s", action, key, exc)
        raise StorageUnavailable() from exc


class S3Store(ObjectStore):
    """Objects in `S3_BUCKET`, each key under `prefix`."""

    def __init__(self, prefix: str = "") -> None:
        self.settings = get_settings()
        self.bucket, self.prefix = self.settings.S3_BUCKET, prefix

    @property
    def client(self) -> Any:
        """The boto3 client for the store's API endpoint."""
        return _client_for(self.settings, self.settings.S3_ENDPOINT_URL)

    def object_key(self, key: str) -> str:
        """The object's key in the bucket."""
        return self.prefix + check_key(key)

    def put(self, *, key: str, source: Path, media_type: str, move: bool = False) -> None:
        with _s3_errors("upload", key):
            self.client.upload_file(str(source), self.bucket, self.object_key(key),
                                    ExtraArgs={"ContentType": media_type})
        if move:
            Path(source).unlink(missing_ok=True)

    def size(self, *, key: str) -> int | None:
        try:
            with _s3_errors("head", key):
                try:
                    head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
                except ClientError as exc:
                    if _error_code(exc) in _MISSING:
                        raise FileNotFoundError(key) from None
                    raise
        except FileNotFoundError:
            return None
        return int(head["ContentLength"])

    def open(self, *, key: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        with _s3_errors("get", key):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"]
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    raise FileNotFoundError(key) from None
                raise
        return cast("contextlib.AbstractContextManager[IO[bytes]]", contextlib.closing(body))

    def delete(self, *, key: str) -> None:
        with _s3_errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def delete_prefix(self, *, prefix: str) -> None:
        if not prefix.endswith("/"):
            raise ValueError(f"a prefix is a folder and ends with '/': {prefix!r}")
        with _s3_errors("delete", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.object_key(prefix.rstrip("/")) + "/")
            keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
            for start in range(0, len(keys), _DELETE_BATCH):
                batch = [{"Key": k} for k in keys[start:start + _DELETE_BATCH]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def download(self, *, key: str, media_type: str, filename: str | None,
                 inline: bool = False) -> Download | None:
        if self.size(key=key) is None:
            return None
        params = {"Bucket": self.bucket, "Key": self.object_key(key), "ResponseContentType": media_type}
        disposition = Download(media_type, filename, inline).content_disposition
        if disposition is not None:
            params["ResponseContentDisposition"] = disposition
        signer = _client_for(self.settings, self.settings.S3_PUBLIC_ENDPOINT_URL or self.settings.S3_ENDPOINT_URL)
        url = signer.generate_presigned_url("get_object", Params=params,
                                            ExpiresIn=self.settings.S3_PRESIGN_TTL_SECONDS)
        return Download(media_type, filename, inline, url=str(url))
