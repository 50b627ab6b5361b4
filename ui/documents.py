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
from pathlib import Path
from typing import Any

import gradio as gr

from ingest.readers import SUPPORTED
from retriever.errors import VerbatimError
from ui.library import Library
from ui.uploads import UploadError

__all__ = ["documents_tab", "uploaded"]

log = logging.getLogger("verbatim.app")

_HEADERS = ["title", "file", "format", "language", "characters", "passages"]


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


class _Handlers:
    """The tab's event handlers, over one library."""

    def __init__(self, library: Library) -> None:
        self.library = library

    def rows(self) -> list[list[Any]]:
        return [
            [d.title, d.source, d.format, d.lang, d.n_chars, d.chunk_end - d.chunk_start]
            for d in self.library.documents
        ]

    def choices(self) -> Any:
        return gr.update(choices=[d.source for d in self.library.documents], value=[])

    def upload(self, files: list[str] | None, progress=gr.Progress()) -> Iterator[tuple[Any, ...]]:  # noqa: B008
        if not files:
            yield "Choose one or more files first.", gr.update(), gr.update(), gr.update()
            return
        if not all(uploaded(f) for f in files):
            # Gradio checks this too; an event must never read a file the client named.
            log.warning("refused an upload event naming files outside the upload folder")
            yield "⚠️ Upload the files again.", gr.update(), gr.update(), None
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
            yield (
                f"⏳ {status['line']} ({time.monotonic() - t0:.0f} s) — answers keep coming "
                "from the current index meanwhile.",
                gr.update(),
                gr.update(),
                gr.update(),
            )
            worker.join(0.3)
        if "error" in result:
            files_box = None if result.get("clear") else gr.update()
            yield f"⚠️ {result['error']}", gr.update(), gr.update(), files_box
            return
        done = result["ok"]
        yield f"{done.mark} {done.summary()}", self.rows(), self.choices(), None

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

    def remove(self, sources: list[str] | None) -> tuple[Any, ...]:
        try:
            result = self.library.remove(sources or [])
        except VerbatimError as exc:
            return f"⚠️ {exc}", gr.update(), gr.update()
        return f"{result.mark} {result.summary()}", self.rows(), self.choices()


def documents_tab(demo: gr.Blocks, library: Library, max_upload_mb: float) -> None:
    """The tab's components and events, inside an open ``gr.Tab`` of ``demo``."""
    handlers = _Handlers(library)
    gr.Markdown(
        f"Add documents ({', '.join(SUPPORTED)}; up to "
        f"{max_upload_mb:g} MB each). They are saved in `{library.documents_dir}` "
        "and indexed at once; questions are answered from the previous index "
        "until the new one is ready."
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
    status = gr.Markdown("", elem_id="vb-status")
    table = gr.Dataframe(
        value=handlers.rows,
        headers=_HEADERS,
        interactive=False,
        label="Indexed documents",
        elem_id="vb-docs",
        wrap=True,
    )
    with gr.Row():
        chosen = gr.Dropdown(
            choices=[d.source for d in library.documents],
            multiselect=True,
            label="Remove from the index",
            scale=6,
            elem_id="vb-remove-choice",
        )
        drop = gr.Button("Remove", variant="stop", scale=1, elem_id="vb-remove")
    updates = {"api_name": False, "concurrency_limit": 1, "concurrency_id": "update"}
    add.click(handlers.upload, [files], [status, table, chosen, files], **updates)
    drop.click(handlers.remove, [chosen], [status, table, chosen], **updates)
    demo.load(lambda: (handlers.rows(), handlers.choices()), None, [table, chosen], api_name=False)
