"""The Milvus store beyond the shared contract: the pitfalls known from other projects,
incremental ingest by document hash, resuming an interrupted write, and the CLI.

Runs on ``milvus-lite server`` bound to 127.0.0.1 (or a real Milvus named by
``VERBATIM_TEST_MILVUS``, see ``tests/services.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest import ingest
from retriever import Answerer
from retriever.milvus_schema import (
    MAX_VARCHAR,
    fit_bytes,
    is_milvus,
    parse_location,
    source_key,
    split_bytes,
)
from retriever.stores import current_version, open_store
from tests.conftest import TINY
from tests.services import REAL_MILVUS

pytestmark = pytest.mark.service


def _ingest(docs: Path, where: str, encoder, aux_encoder, **kw):  # type: ignore[no-untyped-def]
    return ingest([docs], where, encoder=encoder, cross_lingual_encoder=aux_encoder, **kw)


def test_locations_and_byte_limits_without_a_server() -> None:
    where = parse_location("milvus://10.0.0.5:19530/wiki")
    assert (where.uri, where.name, where.documents) == ("http://10.0.0.5:19530", "wiki",
                                                        "wiki_documents")  # fmt: skip
    assert parse_location("/tmp/x.db").name == "verbatim"
    assert parse_location("/tmp/x.db#mine").name == "mine"
    assert is_milvus("milvus://h:1/n") and is_milvus("a/b.db") and not is_milvus("data/index")
    for bad in ("milvus://nohost/x", "milvus://h:1/9bad", "milvus://h:1/a-b"):
        with pytest.raises(ValueError, match="milvus|collection"):
            parse_location(bad)
    text = "a" + "ä" * 40_000 + "😀" * 20_000  # 160,001 bytes of UTF-8
    parts = split_bytes(text)
    assert "".join(parts) == text and all(len(p.encode()) <= MAX_VARCHAR for p in parts)
    cut = fit_bytes(text)
    assert len(cut.encode()) <= MAX_VARCHAR and text.startswith(cut)


def test_a_search_right_after_a_write_sees_it(milvus_store: str, tiny_docs, encoder, aux_encoder):
    from retriever.milvus_schema import connect

    _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    where = parse_location(milvus_store)
    client = connect(where)
    for name in (where.name, where.documents):  # every read is Strong by default
        assert client.describe_collection(name)["consistency_level_name"] == "Strong"
    (tiny_docs / "new.txt").write_text("Zhukov reached the Oder in February 1945.\n")
    _ingest(tiny_docs, milvus_store, encoder, aux_encoder)  # and ask at once
    store = open_store(milvus_store)
    scores, ids = store.search_lexical("Zhukov Oder", 3)
    assert store.chunk(int(ids[0])).source == "new.txt"


def test_the_bm25_field_is_never_written_or_read_back(
    milvus_store: str, tiny_docs, encoder, aux_encoder, monkeypatch
) -> None:
    from pymilvus import MilvusClient

    seen: list[tuple[str, object]] = []
    for method in ("insert", "upsert", "search", "query", "get", "hybrid_search"):
        original = getattr(MilvusClient, method)

        def spy(self, *a, _original=original, _name=method, **kw):  # type: ignore[no-untyped-def]
            data = kw.get("data", a[1] if len(a) > 1 else None)
            if _name in ("insert", "upsert"):
                seen.append((_name, sorted({k for row in data for k in row})))
            else:
                seen.append((_name, kw.get("output_fields")))
            return _original(self, *a, **kw)

        monkeypatch.setattr(MilvusClient, method, spy)
    _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    store = open_store(milvus_store)
    answerer = Answerer(store, encoder, cross_lingual_encoder=aux_encoder)
    answerer.ask("When did Operation Bagration begin?")
    store.ids(), store.documents
    writes = [fields for name, fields in seen if name in ("insert", "upsert")]
    reads = [fields for name, fields in seen if name not in ("insert", "upsert")]
    assert writes and reads
    assert all("bm25" not in fields for fields in writes)
    assert all(fields and "bm25" not in fields and "*" not in fields for fields in reads)


def test_long_chunks_fit_milvus_byte_limits_and_offsets_stay_exact(
    milvus_store: str, tmp_path: Path, encoder, aux_encoder
) -> None:
    from ingest import DEFAULT_SPLITTER
    from retriever.milvus_schema import connect

    docs = tmp_path / "long"
    docs.mkdir()
    # One paragraph of mostly 3-byte and 4-byte characters: chunks of 40,000 characters
    # are about 85,000 bytes, past Milvus's VARCHAR limit of 65,535 bytes.
    words = ["Zhukov", "東京の戦い", "😀😀😀"] * 8_000
    text = " ".join(words) + ".\n"
    (docs / "long.txt").write_text(text, encoding="utf-8")
    splitter = DEFAULT_SPLITTER.__class__(chunk_size=40_000, chunk_overlap=0)
    _ingest(docs, milvus_store, encoder, aux_encoder, splitter=splitter)
    store = open_store(milvus_store)
    assert store.document_text("long.txt") == text
    chunks = [store.chunk(i) for i in store.ids()]
    assert any(len(c.text.encode()) > MAX_VARCHAR for c in chunks)
    assert all(text[c.start : c.end] == c.text for c in chunks)
    where = parse_location(milvus_store)
    client = connect(where)
    rows = [*client.query(where.name, filter="id >= 0", output_fields=["text", "terms"]),
            *client.query(where.documents, filter="id >= 0", output_fields=["body"])]  # fmt: skip
    for row in rows:
        for field in ("text", "terms", "body"):
            assert len(row.get(field, "").encode("utf-8")) <= MAX_VARCHAR
    assert store.search_lexical("Zhukov", 5)[1].size > 0


def test_incremental_ingest_by_document_hash(
    milvus_store: str, tiny_docs, encoder, aux_encoder
) -> None:
    first = _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    assert first.wrote and sorted(first.added) == sorted(TINY)
    version = open_store(milvus_store).version
    again = _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    assert not again.wrote and again.embedded == 0 and sorted(again.unchanged) == sorted(TINY)
    assert current_version(milvus_store) == version  # nothing changed: no new version
    before = {int(i): open_store(milvus_store).chunk(i) for i in open_store(milvus_store).ids()}
    (tiny_docs / "kursk.md").write_text("# Kursk\n\nThe Kursk salient held in July 1943.\n")
    (tiny_docs / "leningrad.txt").unlink()
    third = _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    assert third.updated == ["kursk.md"] and third.removed == ["leningrad.txt"]
    store = open_store(milvus_store)
    assert store.version != version and current_version(milvus_store) == store.version
    after = {int(i): store.chunk(i) for i in store.ids()}
    kept = {i for i, c in before.items() if c.source not in ("kursk.md", "leningrad.txt")}
    assert kept <= set(after) and all(after[i] == before[i] for i in kept)  # same ids
    assert {c.source for c in after.values()} == set(TINY) - {"leningrad.txt"}
    assert "Kursk salient" in store.document_text("kursk.md")
    assert len(store) == sum(d.chunk_end for d in store.documents) == len(after)


def test_an_interrupted_write_is_invisible_then_finished_or_dropped(
    milvus_store: str, tiny_docs, encoder, aux_encoder
) -> None:
    from ingest.plan import sha256_bytes
    from retriever.manifest import DocumentRecord
    from retriever.milvus_rows import chunk_rows
    from retriever.milvus_writer import MilvusWriter

    _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    total = len(open_store(milvus_store))
    store = open_store(milvus_store)
    writer = MilvusWriter.open(milvus_store, store.meta)
    # A run killed after writing the chunks of two documents, before their records.
    texts = {"gone.txt": "Tallinn was taken on 22 September 1944.\n",
             "late.txt": "Riga was taken on 13 October 1944.\n"}  # fmt: skip
    for name, text in texts.items():
        record = DocumentRecord(name, "t", sha256_bytes(text.encode()), "text", "en",
                                len(text), 0, 0, 0, 1)  # fmt: skip
        writer.begin([(name, record.sha256)])
        vec = encoder.encode([text]), aux_encoder.encode([text])
        writer.upsert_chunks(chunk_rows(record, text, [(0, len(text) - 1)], *vec, "verbatim"))
    store = open_store(milvus_store)
    assert len(store.search_lexical("Tallinn Riga", 5)[1]) == 0  # no record: not found
    assert len(store) == total + 2
    (tiny_docs / "late.txt").write_text(texts["late.txt"])  # the next run has late.txt only
    report = _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    assert report.added == ["late.txt"]
    store = open_store(milvus_store)
    assert len(store) == total + 1 == len(set(store.ids().tolist()))
    assert store.chunk(int(store.search_lexical("Riga", 1)[1][0])).source == "late.txt"
    assert len(store.search_lexical("Tallinn", 5)[1]) == 0
    assert writer.pending() == []


def test_new_documents_commit_without_scans_and_a_killed_write_of_older_bytes_is_replaced(
    milvus_store: str, tiny_docs, encoder, aux_encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.plan import sha256_bytes
    from retriever.manifest import DocumentRecord
    from retriever.milvus_rows import chunk_rows
    from retriever.milvus_writer import MilvusWriter

    scans: list[str] = []
    real = MilvusWriter.open

    def counted(*args, **kwargs):  # every writer of the runs below counts its deletes
        writer = real(*args, **kwargs)
        delete = writer.client.delete

        def delete_counted(collection, **kw):
            if kw.get("filter"):
                scans.append(kw["filter"])
            return delete(collection, **kw)

        monkeypatch.setattr(writer.client, "delete", delete_counted)
        return writer

    monkeypatch.setattr(MilvusWriter, "open", counted)
    _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    assert scans == []  # a new store: nothing older to look for
    total = len(open_store(milvus_store))
    # A run killed after writing the chunks of riga.txt's first bytes, before its record.
    old = "Riga was taken on 13 October 1944.\n"
    record = DocumentRecord("riga.txt", "t", sha256_bytes(old.encode()), "text", "en",
                            len(old), 0, 0, 0, 1)  # fmt: skip
    writer = MilvusWriter.open(milvus_store, open_store(milvus_store).meta)
    writer.begin([("riga.txt", record.sha256)])
    vec = encoder.encode([old]), aux_encoder.encode([old])
    writer.upsert_chunks(chunk_rows(record, old, [(0, len(old) - 1)], *vec, "verbatim"))
    # The file changed before the next run: its older chunks must go, though no record
    # of riga.txt was ever written.
    (tiny_docs / "riga.txt").write_text("The Red Army entered Riga in October 1944.\n")
    scans.clear()
    report = _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    assert report.added == ["riga.txt"] and scans  # journaled before: the careful commit
    store = open_store(milvus_store)
    assert len(store) == total + 1 == len(set(store.ids().tolist()))
    hits = store.search_lexical("Riga", 5)[1]
    assert [store.chunk(int(i)).text for i in hits] == [
        "The Red Army entered Riga in October 1944."
    ]
    assert writer.pending() == []


def test_a_missing_store_and_a_mismatch_are_clear_errors(
    milvus_store: str, tiny_docs, encoder, aux_encoder
) -> None:
    from retriever.errors import IndexMismatchError, IndexNotFoundError
    from tests.conftest import HashEncoder

    with pytest.raises(IndexNotFoundError, match="verbatim ingest YOUR_DOCUMENTS --store"):
        open_store(milvus_store)
    _ingest(tiny_docs, milvus_store, encoder, aux_encoder)
    with pytest.raises(IndexMismatchError, match="new store"):
        _ingest(tiny_docs, milvus_store, HashEncoder(name="other"), aux_encoder)
    store = open_store(milvus_store)
    with pytest.raises(KeyError):
        store.document("nope.txt")
    assert source_key("a") != source_key("b")


@pytest.mark.skipif(bool(REAL_MILVUS), reason="checks the Lite server the tests start")
def test_the_lite_server_listens_on_loopback_only(tmp_path: Path) -> None:
    import psutil

    from tests.services import lite_server

    with lite_server(tmp_path / "data") as (url, pid):
        port = int(url.rsplit(":", 1)[1])
        listening = [c.laddr for c in psutil.Process(pid).net_connections("inet")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == port]  # fmt: skip
        assert listening and all(a.ip in ("127.0.0.1", "::ffff:127.0.0.1") for a in listening)


def test_the_cli_ingests_asks_and_evaluates_on_a_store(
    milvus_store: str, tiny_docs: Path, tmp_path: Path, fake_models, capsys
) -> None:
    from ui.cli import main

    assert main(["ingest", str(tiny_docs), "--store", milvus_store, "--quiet"]) == 0
    assert "5 added" in capsys.readouterr().out
    q = "When did Operation Bagration begin?"
    assert main(["ask", q, "--store", milvus_store, "--json", "--min-score", "0.2"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["quote"] == "Operation Bagration began on June 22, 1944."
    c = answer["citation"]
    assert open_store(milvus_store).document_text(c["source"])[c["start"] : c["end"]] == (
        answer["quote"]
    )
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "1", "question": q, "answers": ["June 22, 1944"]}) + "\n")
    out = tmp_path / "run"
    assert main(["eval", str(gold), "--store", milvus_store, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["hit@1"] == 1.0 and metrics["run"]["index"] == milvus_store
    assert main(["ask", q, "--store", "data/index"]) == 2
    assert "--store data/index" in capsys.readouterr().err
