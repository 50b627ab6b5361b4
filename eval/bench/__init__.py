"""``verbatim bench``: speed and scale, measured (see :mod:`eval.bench.run`)."""

from eval.bench.run import format_table, run_bench

__all__ = ["format_table", "run_bench"]
