"""The services the scale-out suites run against: a Milvus server and a local Ray cluster.

By default a ``milvus-lite server`` is started for the session, bound to 127.0.0.1 on a
free port (its own default host is 0.0.0.0: every interface), and stopped after.
``VERBATIM_TEST_MILVUS=milvus://HOST:PORT`` runs the same suites against a real Milvus
instead (standalone or a cluster's proxy); each test then works in collections of its
own and drops them after.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eval.bench.lite import lite_server

__all__ = [
    "REAL_MILVUS",
    "SlowHashEncoder",
    "drop_store",
    "lite_server",
    "new_store_name",
    "ray_cluster",
]

#: A real Milvus to test against instead of Milvus Lite (``milvus://HOST:PORT``).
REAL_MILVUS = os.environ.get("VERBATIM_TEST_MILVUS", "").rstrip("/")


def new_store_name() -> str:
    """A collection name no other test uses."""
    return f"t_{uuid.uuid4().hex[:12]}"


def drop_store(location: str) -> None:
    """Drop a test store's collections (on a shared real Milvus: leave nothing behind)."""
    from retriever.milvus_schema import connect, parse_location

    where = parse_location(location)
    client = connect(where)
    for name in (where.name, where.documents):
        if client.has_collection(name):
            client.drop_collection(name)


@contextmanager
def ray_cluster(object_store_mb: int = 200) -> Iterator[None]:
    """A local Ray cluster of 2 CPUs for the ``with`` (no dashboard), shut down after. Its
    workers import the tests' own modules (the fake encoders) from the repository."""
    import ray

    from ingest.distributed import start_ray

    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    start_ray(
        "local",
        num_cpus=2,
        object_store_memory=object_store_mb * 2**20,
        runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}},
    )
    try:
        yield
    finally:
        ray.shutdown()


class SlowHashEncoder:
    """The tests' hashed-words encoder (``tests.conftest.HashEncoder``), taking ``delay``
    seconds per call: a distributed ingest that is slow enough to be killed midway."""

    def __init__(self, name: str, dim: int, delay: float) -> None:
        from tests.conftest import HashEncoder

        self.inner = HashEncoder(name=name, dim=dim)
        self.name, self.dim, self.delay = name, dim, delay

    def encode(self, texts: list[str], *, batch_size: int = 64):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        return self.inner.encode(texts, batch_size=batch_size)
