"""The documents a running server answers from: uploads, removals and the live index.

Uploads are saved under ``<data>/documents`` and ingested into the index the server
answers from, keeping what the index already held (``ingest(..., keep_existing=True)``).
Ingest writes a new generation beside the live one; questions keep going to the last good
index until the new one is complete, then the server switches to it in one step. The same
holds when another process (``verbatim ingest`` on the served index) writes it: the
server notices the new generation within a second and switches once it opens cleanly. On
a Milvus store, every server follows the store's version row the same way, so an upload
through one server is answered by all.

Example:
    >>> library = Library(answerer, "data")                      # doctest: +SKIP
    >>> library.add([("notes.txt", Path("/tmp/upload/notes.txt"))])  # doctest: +SKIP
    >>> library.answerer.ask("What do the notes say?")            # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ingest import DEFAULT_LIMITS, ReadLimits, SplitterSettings, collect_files, ingest
from ingest.compact import DEFAULT_DELTA, DeltaPolicy, compact
from retriever import Answerer, Space, VerbatimError
from retriever.durable import write_atomic
from retriever.stores import current_version, is_milvus, open_store
from ui.uploads import (
    DEFAULT_MAX_UPLOAD_MB,
    MAX_FILES_PER_UPLOAD,
    UpdateResult,
    UploadError,
    safe_filename,
    sha256_file,
)

if TYPE_CHECKING:
    from retriever.manifest import DocumentRecord

__all__ = ["Library", "FOLLOW_INTERVAL_S"]

log = logging.getLogger(__name__)

#: How often, in seconds, questions look for a generation written by another process.
FOLLOW_INTERVAL_S = 1.0


class Library:
    """The live index of a server and the documents folder its uploads go to.

    Args:
        answerer: answers from the index to keep up to date; its encoders embed uploads.
        data_dir: the data folder; uploads are saved in ``data_dir/documents``.
        max_upload_mb: largest accepted file (larger: slower uploads, more memory).
        limits: what reading one uploaded document may cost.
        catch_up: index, in the background, saved files the index lacks.
        delta: when an upload into a large index is a delta segment; past its limit the
            base is rebuilt in a background thread (:mod:`ingest.compact`).

    Thread safety: questions may run while an update does; updates run one at a time.
    """

    def __init__(
        self,
        answerer: Answerer,
        data_dir: Path | str,
        *,
        max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
        limits: ReadLimits = DEFAULT_LIMITS,
        catch_up: bool = True,
        delta: DeltaPolicy = DEFAULT_DELTA,
    ) -> None:
        self._answerer = answerer
        #: Where the index lives: a folder, or a Milvus store that other servers share.
        self.location = answerer.index.location
        self.index_dir = None if is_milvus(self.location) else Path(self.location)
        self.data_dir = Path(data_dir)
        self.documents_dir = self.data_dir / "documents"
        #: Where removed uploads wait, so that a removal can be undone.
        self.removed_dir = self.data_dir / "removed"
        self.max_upload_bytes = int(max_upload_mb * 1024 * 1024)
        self.limits = limits
        self.delta = delta
        self._update_lock = threading.Lock()
        self._checked = time.monotonic()
        self._refused = ""  # a generation that failed to open, not retried
        #: The background update that indexes files saved but not indexed (a server killed
        #: during an upload), or None.
        self.catching_up: threading.Thread | None = None
        #: The background rebuild of a large index's base after uploads, or None.
        self.rebuilding: threading.Thread | None = None
        if catch_up and self.unindexed():
            self.catching_up = threading.Thread(
                target=self._catch_up, name="verbatim-catch-up", daemon=True
            )
            self.catching_up.start()

    def unindexed(self) -> list[str]:
        """Files of the documents folder that the index does not hold (by name)."""
        if not self.documents_dir.is_dir():
            return []
        known = {d.source for d in self._answerer.index.documents}
        files = collect_files([self.documents_dir], warn=lambda _msg: None, skip=lambda *_: None)
        return [source for source, _path in files if source not in known]

    def _catch_up(self) -> None:
        try:
            with self._hold():
                names = self.unindexed()
                if names:
                    log.info("indexing %d saved file(s) the index lacks", len(names))
                    result = self._update(drop=())
                    log.info("%s", result.summary())
        except Exception as exc:  # keep serving from the index as it is
            log.warning("could not index the saved documents: %s", exc)

    @property
    def answerer(self) -> Answerer:
        """The answerer of the last complete index (swapped atomically after an update)."""
        self._follow()
        return self._answerer

    def _follow(self) -> None:
        """Switch to a generation (or Milvus store version) another process made live, at
        most once a second.

        A generation that cannot be opened (damaged, another model) is logged once and the
        server goes on answering from the one it has.
        """
        now = time.monotonic()
        if now - self._checked < FOLLOW_INTERVAL_S:
            return
        self._checked = now
        name = current_version(self.location, self._answerer.index)
        if name in (None, self._answerer.index.version, self._refused):
            return
        if not self._update_lock.acquire(blocking=False):
            return  # an upload is writing; it switches when done
        try:
            self._answerer = self._answerer.on(open_store(self.location))
            log.info("switched to %s, written by another process", name)
        except Exception as exc:  # whatever is wrong with it, keep answering
            self._refused = name
            log.warning("keeping the current index: %s", exc)
        finally:
            self._update_lock.release()

    @property
    def documents(self) -> tuple[DocumentRecord, ...]:
        return self.answerer.index.documents

    @property
    def busy(self) -> bool:
        return self._update_lock.locked()

    def add(
        self,
        uploads: Iterable[tuple[str, Path | str]],
        status: Callable[[str], None] | None = None,
    ) -> UpdateResult:
        """Save uploaded files into the documents folder and index them.

        Args:
            uploads: ``(name the user gave, path of the uploaded bytes)`` pairs.
            status: called with a short line at each stage (for progress displays).

        Returns:
            An :class:`UpdateResult`; files refused by name, type or size are listed in
            ``refused`` with the reason, the others are indexed.

        Raises:
            UploadError: no file was given, or none was acceptable.
            VerbatimError: another update holds the index.
        """
        say = status or (lambda _msg: None)
        uploads = list(uploads)
        if not uploads:
            raise UploadError("choose one or more files to upload first")
        if len(uploads) > MAX_FILES_PER_UPLOAD:
            raise UploadError(
                f"{len(uploads)} files at once is too many; upload at most {MAX_FILES_PER_UPLOAD}"
            )
        checked: list[tuple[str, Path]] = []
        refused: list[str] = []
        for name, path in uploads:
            try:
                checked.append((self._check(name, Path(path)), Path(path)))
            except UploadError as exc:
                refused.append(str(exc))
        if not checked:
            raise UploadError("; ".join(refused))
        with self._hold():
            say(f"Saving {len(checked)} file(s)…")
            renamed: list[str] = []
            saved = []
            taken: set[str] = set()
            for name, path in checked:
                free = self._free_name(name, path, taken)
                taken.add(free)
                if free != name:
                    renamed.append(f"a different document is already named {name}; saved as {free}")
                saved.append(self._save(free, path))
            result = self._update(drop=(), status=say)
            # A file ingest could not read stays out of the documents folder too.
            for source, _why in result.report.skipped:
                if source in saved:
                    (self.documents_dir / source).unlink(missing_ok=True)
            result.saved = saved
            result.refused = refused
            result.renamed = renamed
            return result

    def remove(self, sources: Iterable[str]) -> UpdateResult:
        """Take documents out of the index; an uploaded file moves to ``data/removed``,
        from where :meth:`restore` brings it back.

        Raises:
            UploadError: a source is not in the index.
            VerbatimError: another update holds the index.
        """
        sources = list(sources)
        known = {d.source for d in self.documents}
        missing = [s for s in sources if s not in known]
        if not sources or missing:
            raise UploadError(
                f"not in the index: {', '.join(missing)}" if missing else "choose a document"
            )
        with self._hold():
            moved = []
            for source in sources:
                path = self._inside(source)
                if path is not None and path.is_file():
                    kept = self.removed_dir / source
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, kept)
                    moved.append((kept, path))
            try:
                result = self._update(drop=sources)
            except BaseException:
                for kept, path in moved:  # the index is as it was: so are the files
                    os.replace(kept, path)
                raise
            log_ = self._removed_log()
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime())
            for source in sources:
                log_[source] = {"at": when, "kept": (self.removed_dir / source).is_file()}
            self._write_removed_log(log_)
            return result

    def restore(self, sources: Iterable[str]) -> UpdateResult:
        """Bring removed uploads back into the documents folder and the index.

        Raises:
            UploadError: a source was not removed here, or a file of its name came since.
            VerbatimError: another update holds the index.
        """
        sources = list(sources)
        with self._hold():
            log_ = self._removed_log()
            for source in sources:
                kept = self.removed_dir / source
                target = self._inside(source)
                if source not in log_ or not kept.is_file() or target is None:
                    raise UploadError(f"{source} cannot be restored; upload it again")
                if target.exists():
                    raise UploadError(f"a document named {source} came since; not restored")
            for source in sources:
                target = self._inside(source)
                assert target is not None
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.removed_dir / source, target)
                del log_[source]
            self._write_removed_log(log_)
            return self._update(drop=())

    def removal_of(self, source: str) -> str | None:
        """When ``source`` was removed (``"2026-12-02 15:40"``), if it was and is still out."""
        entry = self._removed_log().get(source)
        known = {d.source for d in self.documents}
        return entry["at"] if entry and source not in known else None

    def _removed_log(self) -> dict[str, dict]:
        try:
            data = json.loads((self.data_dir / "removed.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_removed_log(self, data: dict[str, dict]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.data_dir / "removed.json", json.dumps(data, indent=1).encode())

    # -- internals --------------------------------------------------------------------------

    @contextmanager
    def _hold(self) -> Iterator[None]:
        if not self._update_lock.acquire(blocking=False):
            raise VerbatimError("the index is being updated; try again when that finishes")
        try:
            yield
        finally:
            self._update_lock.release()

    def _check(self, name: str, path: Path) -> str:
        safe = safe_filename(name)
        size = path.stat().st_size
        if size > self.max_upload_bytes:
            raise UploadError(
                f"{safe} is {size / 1048576:.1f} MB; the limit is "
                f"{self.max_upload_bytes / 1048576:.0f} MB (verbatim serve --max-upload-mb)"
            )
        if size == 0:
            raise UploadError(f"{safe} is empty")
        return safe

    def _free_name(self, name: str, upload: Path, taken: set[str]) -> str:
        """``name``, or ``stem (2).ext`` and so on when another document holds ``name``.

        The same bytes under the same name are no clash (ingest finds nothing changed); a
        different document never silently replaces one that is already indexed or saved.
        """
        known = {d.source: d for d in self._answerer.index.documents}
        stem, ext = name.rsplit(".", 1)
        digest = sha256_file(upload)
        n = 1
        candidate = name
        while True:
            on_disk = self.documents_dir / candidate
            clash = (
                candidate in taken
                or (candidate in known and known[candidate].sha256 != digest)
                or (on_disk.is_file() and sha256_file(on_disk) != digest)
            )
            if not clash:
                return candidate
            n += 1
            candidate = f"{stem} ({n}).{ext}"

    def _inside(self, name: str) -> Path | None:
        """``documents_dir / name`` if that stays inside the folder, else None."""
        root = self.documents_dir.resolve()
        target = (root / name).resolve()
        return target if root in target.parents else None

    def _save(self, name: str, data: Path) -> str:
        self.documents_dir.mkdir(parents=True, exist_ok=True)
        target = self._inside(name)
        if target is None:  # safe_filename makes this impossible; never write elsewhere
            raise UploadError(f"{name!r} would land outside the documents folder")
        # Replaces a link of that name itself, never what it points to.
        write_atomic(target, Path(data).read_bytes())
        return name

    def _update(
        self, drop: Iterable[str], status: Callable[[str], None] | None = None
    ) -> UpdateResult:
        old = self._answerer
        warnings: list[str] = []
        report = ingest(
            [self.documents_dir] if self.documents_dir.is_dir() else [],
            self.location,
            encoder=old.encoder,
            cross_lingual_encoder=old.cross_lingual_encoder,
            cross_lingual=old.index.has(Space.CROSS_LINGUAL),
            splitter=SplitterSettings.from_dict(old.index.splitter),
            keep_existing=True,
            drop=drop,
            warn=warnings.append,
            backend=old.index.backend,
            limits=self.limits,
            status=status,
            delta=self.delta,
            background=True,
        )
        if report.wrote:
            self._answerer = self._answerer.on(open_store(self.location))
        if report.compact_due and self.index_dir is not None:
            self._rebuild_later(self.index_dir)
        return UpdateResult(report)

    def _rebuild_later(self, index_dir: Path) -> None:
        """Rebuild the index's base in a background thread (the delta passed its limit);
        questions are answered from the live generation meanwhile, and the rebuilt one is
        followed once it is swapped in."""
        if self.rebuilding is not None and self.rebuilding.is_alive():
            return
        self.rebuilding = threading.Thread(
            target=compact, args=(index_dir,), name="verbatim-rebuild", daemon=True
        )
        self.rebuilding.start()
