"""Re-score a run from its results.jsonl alone, with nothing of Verbatim's code.

Usage: python tests/independent_rescore.py RUN_DIR

Written separately from eval/metrics.py, from the definitions in DESIGN.md (Contract 3),
so that agreement between the two is evidence that both are right.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import sys
from collections import Counter


def norm(s: str) -> str:
    return " ".join(s.split()).lower()


def squad_tokens(s: str) -> list[str]:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return s.split()


def relevant(row: dict, passage: dict) -> bool:
    want = row.get("source")
    if (
        want
        and passage.get("source") not in (want,)
        and (passage.get("source") or "").split("/")[-1] != want
    ):
        return False
    return any(norm(a) in norm(passage.get("text") or "") for a in row["answers"])


def rescore(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["answers"]]
    una = [r for r in rows if not r["answers"]]
    out: dict = {}
    ranks = []
    for r in ans:
        rank = next(
            (i + 1 for i, p in enumerate(r["response"]["passages"]) if relevant(r, p)), None
        )
        ranks.append(rank)
    for k in (1, 3, 5, 10):
        out[f"hit@{k}"] = sum(1 for x in ranks if x and x <= k) / len(ans) if ans else None
    out["mrr@10"] = sum(1 / x for x in ranks if x and x <= 10) / len(ans) if ans else None
    out["ndcg@10"] = (
        sum(1 / math.log2(x + 1) for x in ranks if x and x <= 10) / len(ans) if ans else None
    )
    good = em = f1 = 0.0
    for r in ans:
        resp = r["response"]
        quote = resp["quote"] or ""
        cite_ok = relevant(r, {"text": quote, "source": (resp["citation"] or {}).get("source")})
        good += bool(resp["answered"]) and cite_ok
        p = squad_tokens(quote)
        best_em = best_f1 = 0.0
        for a in r["answers"]:
            g = squad_tokens(a)
            best_em = max(best_em, float(p == g))
            same = sum((Counter(p) & Counter(g)).values())
            if same:
                prec, rec = same / len(p), same / len(g)
                best_f1 = max(best_f1, 2 * prec * rec / (prec + rec))
        em += best_em
        f1 += best_f1
    out["quote@1"] = good / len(ans) if ans else None
    out["exact_match"] = em / len(ans) if ans else None
    out["f1"] = f1 / len(ans) if ans else None
    out["abstain_recall"] = (
        sum(not r["response"]["answered"] for r in una) / len(una) if una else None
    )
    out["answer_rate"] = (
        sum(bool(r["response"]["answered"]) for r in ans) / len(ans) if ans else None
    )
    lat = sorted(r["response"]["timing_ms"].get("total", 0.0) for r in rows)
    out["latency_ms_p50"] = statistics.median(lat)
    out["latency_ms_p95"] = statistics.quantiles(lat, n=20, method="inclusive")[-1]
    quotes = [len(r["response"]["quote"]) for r in rows if r["response"]["quote"]]
    out["quote_chars_mean"] = sum(quotes) / len(quotes) if quotes else None
    return out


def main(run_dir: str) -> None:
    with open(f"{run_dir}/results.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    print(json.dumps(rescore(rows), indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
