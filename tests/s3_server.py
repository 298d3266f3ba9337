"""An S3 endpoint for tests: moto's standalone server (`moto[server]`, pinned) over real HTTP.

The app reaches it through boto3 like any S3-compatible store (`S3_ENDPOINT_URL`). moto keeps
its objects in memory and does not check signatures, so tests check what a real store would
be asked (keys, types, the presigned URL's parameters) and the bytes it serves back.

Use the session-scoped ``s3_server`` fixture (import it into a test module or conftest:
``from s3_server import s3_server  # noqa: F401``); ``s3_server.new_bucket()`` makes a bucket
of a test's own and ``s3_server.env(bucket)`` the settings that point the app at it.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from saas_app.dev import processes

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class S3Server:
    """A `moto_server` process on a free port of 127.0.0.1."""

    def __init__(self, log_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> S3Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([str(processes.BIN_DIR / "moto_server"), "-H", "127.0.0.1",
                                          "-p", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        processes.wait_http(f"{self.url}/moto-api/data.json", timeout=60, watch=[self.proc])
        return self

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop_all([self.proc])
            self.proc = None

    def client(self) -> Any:
        """A boto3 client of the tests' own (not the app's)."""
        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY)

    def new_bucket(self) -> str:
        """An empty bucket with a fresh name."""
        name = f"test-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in the bucket under `prefix`, sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        """An object's bytes."""
        return bytes(self.client().get_object(Bucket=bucket, Key=key)["Body"].read())

    def env(self, bucket: str) -> dict[str, str]:
        """The settings that keep the app's files in `bucket` on this server."""
        return {"STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": self.url, "S3_REGION": REGION,
                "S3_ACCESS_KEY_ID": ACCESS_KEY, "S3_SECRET_ACCESS_KEY": SECRET_KEY}


@dataclass
class Bucket:
    """A bucket of one test's own on the server."""

    server: S3Server
    name: str

    def list_keys(self, prefix: str = "") -> list[str]:
        return self.server.keys(self.name, prefix)

    def read(self, key: str) -> bytes:
        return self.server.read(self.name, key)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server for the whole run."""
    server = S3Server(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()
