"""A distributed ingest in a process of its own, so that a test can kill it midway.

``python -m tests.ray_job DOCS LOCATION DELAY``: a local Ray cluster of 2 CPUs, then
:func:`ingest.distributed.ingest_distributed` of ``DOCS`` into ``LOCATION`` with the tests'
hashed-words encoders, each call ``DELAY`` seconds slow, in batches of 4 chunks.
"""

from __future__ import annotations

import sys


def main(docs: str, location: str, delay: float) -> None:
    import ingest.distributed
    from tests.services import SlowHashEncoder, ray_cluster

    ingest.distributed.EMBED_BATCH = 4
    with ray_cluster():
        report = ingest.distributed.ingest_distributed(
            [docs],
            location,
            encoder=SlowHashEncoder("test-hash", 256, delay),
            cross_lingual_encoder=SlowHashEncoder("aux-hash", 192, 0.0),
            actors=1,
        )
    print(report.summary(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
