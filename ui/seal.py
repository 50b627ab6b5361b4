"""Sealed answers: each answer the chat shows carries itself, signed by the server.

A thumbs up or down (and a comment) names the answer it rates by this seal, so rating
needs no memory of the answers on the server: an answer given before a restart, kept in
the browser's history, is rated like a new one. The signature (HMAC-SHA256 with a key kept
in the data folder, ``feedback.key``) makes sure that only answers this server gave reach
the feedback log, never a quote a client made up.

Example:
    >>> seal = AnswerSeal(b"k" * 32)
    >>> token = seal.seal({"question": "When?", "answered": False})
    >>> seal.open(token).response["question"]
    'When?'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retriever.errors import VerbatimError

__all__ = ["AnswerSeal", "Sealed", "KEY_FILE", "MAX_SEAL_CHARS", "load_key"]

log = logging.getLogger("verbatim.app")

KEY_FILE = "feedback.key"
#: The longest seal accepted: an answer's five passages compress to a few KB.
MAX_SEAL_CHARS = 64 * 1024
#: What a seal may unpack to (it is only unpacked once its signature is checked).
_MAX_UNPACKED = 1 << 20
_PREFIX = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(folder: Path | str) -> bytes:
    """The data folder's signing key, made on first use (readable by its owner only).

    A folder that cannot be written gets a key for this run only, with a warning: answers
    given before a restart then cannot be rated.
    """
    path = Path(folder) / KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except OSError:
        pass
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
    except OSError as exc:
        log.warning("cannot keep %s (%s): answers can be rated until a restart only", path, exc)
    return key


@dataclass(frozen=True)
class Sealed:
    """An answer as its seal carries it: its id and the Contract 1 object."""

    answer_id: str
    response: dict[str, Any]


class AnswerSeal:
    """Seals answers (:meth:`seal`) and opens the seals clients send back (:meth:`open`).

    Args:
        key: the secret that signs; the same key opens seals made before a restart.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def derive(self, purpose: str) -> str:
        """A stable value for ``purpose`` made from the key (not the key itself)."""
        return hmac.new(self._key, purpose.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()[:16])

    def seal(self, response: dict[str, Any], answer_id: str | None = None) -> str:
        """A token that carries ``response`` (Contract 1) under a new id, signed."""
        record = {"id": answer_id or secrets.token_hex(8), "answer": response}
        packed = zlib.compress(json.dumps(record, ensure_ascii=False).encode("utf-8"), 9)
        body = f"{_PREFIX}.{_b64(packed)}"
        return f"{body}.{self._sign(body)}"

    def open(self, token: object) -> Sealed:
        """The answer inside ``token``.

        Raises:
            VerbatimError: the token is not a seal of this server (altered, made up, cut
                short, or signed with another key).
        """
        refused = VerbatimError(
            "this answer cannot be rated: it was not given by this server (or its data "
            "folder's feedback.key changed); ask the question again and rate the new answer"
        )
        if not isinstance(token, str) or len(token) > MAX_SEAL_CHARS or not token.isascii():
            raise refused
        body, _, signature = token.strip().rpartition(".")
        if not body.startswith(_PREFIX + ".") or not hmac.compare_digest(
            signature.encode("ascii"), self._sign(body).encode("ascii")
        ):
            raise refused
        try:
            unpack = zlib.decompressobj()
            data = unpack.decompress(_unb64(body.split(".", 1)[1]), _MAX_UNPACKED)
            record = json.loads(data)
            return Sealed(str(record["id"]), dict(record["answer"]))
        except (ValueError, KeyError, TypeError, zlib.error):
            raise refused from None
