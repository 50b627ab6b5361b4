"""The Documents tab: upload files into the index, list what it holds, remove documents.

Built inside the chat page's Blocks by :func:`documents_tab`. An upload runs in a thread
(the library holds the update lock); the tab reports what it is doing every 0.3 s, and
questions keep being answered from the previous index meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from ingest.readers import SUPPORTED
from retriever.errors import VerbatimError
from ui.library import Library
from ui.pages import doc_href
from ui.pdf_viewer import pdf_href
from ui.uploads import UpdateResult, UploadError

if TYPE_CHECKING:
    from retriever.manifest import DocumentRecord

__all__ = ["documents_tab", "documents_html", "status_html", "uploaded"]

log = logging.getLogger("verbatim.app")

#: The table's columns: (label, how a narrow screen labels the cell).
_COLUMNS = ("Title", "File", "Format", "Language", "Characters", "Passages")


def documents_html(records: Sequence[DocumentRecord]) -> str:
    """The indexed documents as a table; each title opens its document. On a narrow screen
    each row becomes a card of labelled lines (``verbatim.css``)."""
    if not records:
        return '<p class="vb-empty">No documents yet: add some above.</p>'
    rows = []
    for d in records:
        href = (
            pdf_href(d.source, None, None) if d.format == "pdf" and d.pages else doc_href(d.source)
        )
        cells = (
            f'<a href="{escape(href, quote=True)}" target="_blank" rel="noopener">'
            f"{escape(d.title)}</a>",
            f"<code>{escape(d.source)}</code>",
            escape(d.format),
            escape(d.lang),
            f"{d.n_chars:,}",
            f"{d.chunk_end - d.chunk_start:,}",
        )
        rows.append(
            "<tr>"
            + "".join(
                f'<td data-label="{label}">{cell}</td>'
                for label, cell in zip(_COLUMNS, cells, strict=True)
            )
            + "</tr>"
        )
    head = "".join(f'<th scope="col">{label}</th>' for label in _COLUMNS)
    return (
        f'<table class="vb-docs-table"><caption>{len(records)} indexed document'
        f"{'s' if len(records) != 1 else ''}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def status_html(kind: str, line: str, problems: Sequence[str] = ()) -> str:
    """A status line (``busy``, ``ok``, ``warn``), with each problem on its own line below."""
    items = "".join(f"<li>{escape(p)}</li>" for p in problems)
    listed = f'<ul class="vb-problems">{items}</ul>' if items else ""
    return f'<div class="vb-status vb-{kind}" role="status"><p>{escape(line)}</p>{listed}</div>'


def uploaded(path: str) -> bool:
    """True when ``path`` is a regular file inside Gradio's upload folder."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()).resolve()
    p = Path(path)
    return not p.is_symlink() and p.is_file() and folder in p.resolve().parents


def _discard_after(worker: threading.Thread, files: Sequence[str]) -> None:
    """Delete uploaded copies once ``worker`` has saved (or refused) them."""
    worker.join()
    for f in files:
        if uploaded(f):
            Path(f).unlink(missing_ok=True)


def _result_html(result: UpdateResult) -> str:
    done, problems = result.lines()
    kind = "ok" if result.changed or not problems else "warn"
    return status_html(kind, done[:1].upper() + done[1:], problems)


class _Handlers:
    """The tab's event handlers, over one library."""

    def __init__(self, library: Library) -> None:
        self.library = library

    def table(self) -> str:
        return documents_html(self.library.documents)

    def choices(self) -> Any:
        return gr.update(choices=[d.source for d in self.library.documents], value=[])

    def upload(self, files: list[str] | None, progress=gr.Progress()) -> Iterator[tuple[Any, ...]]:  # noqa: B008
        if not files:
            yield status_html("warn", "Choose one or more files first."), *([gr.update()] * 3)
            return
        if not all(uploaded(f) for f in files):
            # Gradio checks this too; an event must never read a file the client named.
            log.warning("refused an upload event naming files outside the upload folder")
            yield status_html("warn", "Upload the files again."), gr.update(), gr.update(), None
            return
        status = {"line": f"Saving {', '.join(Path(f).name for f in files)}…"}
        result: dict[str, Any] = {}
        t0 = time.monotonic()
        worker = threading.Thread(target=self._add, args=(files, status, result), daemon=True)
        worker.start()
        # The uploaded copies are saved in the documents folder (or refused): either way
        # they need not wait in the upload folder, whose space is capped.
        threading.Thread(target=_discard_after, args=(worker, files), daemon=True).start()
        while worker.is_alive():
            progress(None, desc=status["line"])
            line = (
                f"{status['line']} {time.monotonic() - t0:.0f} s — answers keep coming from "
                "the current index meanwhile."
            )
            yield status_html("busy", line), gr.update(), gr.update(), gr.update()
            worker.join(0.3)
        if "error" in result:
            files_box = None if result.get("clear") else gr.update()
            line = f"Not added: {result['error']}"
            yield status_html("warn", line), gr.update(), gr.update(), files_box
            return
        yield _result_html(result["ok"]), self.table(), self.choices(), None

    def _add(self, files: list[str], status: dict[str, str], result: dict[str, Any]) -> None:
        try:
            result["ok"] = self.library.add(
                [(Path(f).name, f) for f in files], status=lambda s: status.update(line=s)
            )
        except UploadError as exc:  # the files themselves: choosing them again won't help
            result["error"], result["clear"] = str(exc), True
        except VerbatimError as exc:
            result["error"] = str(exc)
        except Exception:
            log.exception("upload failed")
            result["error"] = "indexing failed; the server log says why. Nothing was lost."

    def ask_remove(self, sources: list[str] | None) -> tuple[Any, ...]:
        """The confirmation for removing ``sources`` (nothing is removed yet)."""
        if not sources:
            return status_html("warn", "Choose the documents to remove first."), gr.update()
        names = ", ".join(sources)
        line = f"Remove {names} from the index? Questions will no longer be answered from it."
        return status_html("warn", line), gr.update(visible=True)

    def remove(self, sources: list[str] | None) -> tuple[Any, ...]:
        hidden = gr.update(visible=False)
        try:
            result = self.library.remove(sources or [])
        except VerbatimError as exc:
            return (
                status_html("warn", f"Not removed: {exc}"),
                gr.update(),
                gr.update(),
                hidden,
                hidden,
                [],
            )
        undo = gr.update(
            visible=any((self.library.removed_dir / s).is_file() for s in sources or [])
        )
        return _result_html(result), self.table(), self.choices(), hidden, undo, list(sources or [])

    def undo(self, sources: list[str]) -> tuple[Any, ...]:
        hidden = gr.update(visible=False)
        try:
            result = self.library.restore(sources)
        except VerbatimError as exc:
            return status_html("warn", f"Not restored: {exc}"), gr.update(), gr.update(), hidden
        done, problems = result.lines()
        line = f"Restored {', '.join(sources)}. {done.split('. ', 1)[-1]}"
        return status_html("ok", line, problems), self.table(), self.choices(), hidden


def documents_tab(demo: gr.Blocks, library: Library, max_upload_mb: float) -> None:
    """The tab's components and events, inside an open ``gr.Tab`` of ``demo``."""
    handlers = _Handlers(library)
    gr.Markdown(
        f"Add documents ({', '.join(SUPPORTED)}; up to {max_upload_mb:g} MB each). They "
        "are saved on the server and indexed at once; questions are answered from the "
        "previous index until the new one is ready."
    )
    files = gr.File(
        label="Documents to add",
        file_count="multiple",
        # No file_types: the browser would drop other files without a word;
        # the library refuses them with a message that says why.
        type="filepath",
        elem_id="vb-upload",
    )
    add = gr.Button("Add to the index", variant="primary", elem_id="vb-add")
    status = gr.HTML("", elem_id="vb-status")
    with gr.Row(visible=False, elem_id="vb-confirm-row") as confirm_row:
        confirm = gr.Button("Yes, remove", variant="stop", elem_id="vb-remove-confirm")
        cancel = gr.Button("Cancel", elem_id="vb-remove-cancel")
    undo = gr.Button("Undo the removal", visible=False, elem_id="vb-undo")
    table = gr.HTML(handlers.table, elem_id="vb-docs", label="Indexed documents")
    with gr.Row():
        chosen = gr.Dropdown(
            choices=[d.source for d in library.documents],
            multiselect=True,
            label="Remove from the index",
            scale=6,
            elem_id="vb-remove-choice",
        )
        drop = gr.Button("Remove…", variant="stop", scale=1, elem_id="vb-remove")
    removed = gr.State([])
    updates = {"api_name": False, "concurrency_limit": 1, "concurrency_id": "update"}
    add.click(handlers.upload, [files], [status, table, chosen, files], **updates)
    drop.click(handlers.ask_remove, [chosen], [status, confirm_row], api_name=False)
    cancel.click(
        lambda: (status_html("ok", "Nothing was removed."), gr.update(visible=False)),
        None, [status, confirm_row], api_name=False,
    )  # fmt: skip
    confirm.click(
        handlers.remove, [chosen], [status, table, chosen, confirm_row, undo, removed], **updates
    )
    undo.click(handlers.undo, [removed], [status, table, chosen, undo], **updates)
    demo.load(lambda: (handlers.table(), handlers.choices()), None, [table, chosen], api_name=False)
