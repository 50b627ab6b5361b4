"""The gold sets on a Milvus store against the local index, with the real models: the same
answers within 0.02 on hit@1 and quote@1 (README, "Scale out"): the seeds, and the SQuAD
bench when it stands beside the repository (``../shared/bench``; minutes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eval.bench.common import SQUAD_GOLD
from tests.conftest import ROOT, SEEDS

pytestmark = [pytest.mark.slow, pytest.mark.service]


def test_the_seeds_gold_set_scores_alike_on_milvus_and_on_the_local_index(
    seed_index: Path, milvus_store: str, tmp_path: Path
) -> None:
    from eval.runner import run_eval
    from ingest import ingest

    docs = tmp_path / "seeds"
    shutil.copytree(SEEDS, docs)
    ingest([docs], milvus_store)
    gold = ROOT / "eval" / "gold" / "seeds.jsonl"
    local = run_eval(gold, tmp_path / "local", index=seed_index).metrics["overall"]
    milvus = run_eval(gold, tmp_path / "milvus", index=milvus_store).metrics["overall"]
    for metric in ("hit@1", "quote@1", "hit@5", "answer_rate", "abstain_recall"):
        assert abs(local[metric] - milvus[metric]) <= 0.02, (metric, local, milvus)
    assert milvus["hit@1"] >= 0.75 and milvus["quote@1"] >= 0.70


@pytest.mark.skipif(not SQUAD_GOLD.exists(), reason="the SQuAD bench is not beside the repository")
@pytest.mark.timeout(2400)  # 950 questions on each store, on a shared 2-core machine
def test_the_squad_bench_scores_alike_on_milvus_and_on_the_local_index(
    milvus_store: str, tmp_path: Path
) -> None:
    from eval.runner import run_eval

    local = run_eval(SQUAD_GOLD, tmp_path / "local", cache=tmp_path / "cache")
    milvus = run_eval(SQUAD_GOLD, tmp_path / "milvus", index=milvus_store, cache=tmp_path / "cache")
    a, b = local.metrics["overall"], milvus.metrics["overall"]
    for metric in ("hit@1", "quote@1", "hit@5", "answer_rate", "abstain_recall"):
        assert abs(a[metric] - b[metric]) <= 0.02, (metric, a, b)
    assert b["hit@1"] >= 0.85 and b["quote@1"] >= 0.80
