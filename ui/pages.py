"""Plain HTML pages beside the Gradio app: the document viewer and the embedding demo.

Both are self-contained (inline style, no outside fonts or scripts). Document text is
untrusted and always escaped; the only markup in the viewer is the page's own.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from retriever.records import location

__all__ = ["STYLE", "document_page", "doc_href", "embed_page", "error_page"]

STYLE = """
:root{color-scheme:light dark;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--accent:#0f5bd7;
  --page:#f6f8fa;--sheet:#fff;--code:#eff2f5;--mark:#ffe58a;--mark-ink:#1f2328}
@media (prefers-color-scheme:dark){:root{--ink:#e6edf3;--muted:#9da7b3;--line:#3d444d;
  --accent:#6cb6ff;--page:#0d1117;--sheet:#161b22;--code:#262c36;--mark:#f2cc60}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.6 system-ui,sans-serif;color:var(--ink);background:var(--page)}
header{position:sticky;top:0;background:var(--sheet);border-bottom:1px solid var(--line);
  padding:.7em 1.5em;display:flex;gap:1em;align-items:baseline;flex-wrap:wrap;z-index:1}
header h1{font-size:1.1em;margin:0}
header .meta{color:var(--muted);font-size:.85em}
header a{color:var(--accent);font-size:.9em;text-decoration:none;margin-left:auto}
main{max-width:52em;margin:1.5em auto;background:var(--sheet);border:1px solid var(--line);
  border-radius:8px;padding:1.5em 2em}
.doc{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;font:inherit}
mark{background:var(--mark);color:var(--mark-ink);padding:.1em 0;border-radius:2px;
  box-shadow:0 0 0 2px var(--mark)}
mark#hl{scroll-margin-top:40vh}
code{font:.85em ui-monospace,monospace;background:var(--code);padding:.1em .3em;
  border-radius:4px}
"""


def doc_href(source: str, start: int | None = None, end: int | None = None, base: str = "") -> str:
    """The viewer's address for ``source``, with the span to highlight if given."""
    href = f"{base}/doc/{quote(source, safe='/')}"
    if start is not None and end is not None:
        href += f"?start={start}&end={end}#hl"
    return href


def document_page(
    title: str, source: str, text: str, start: int | None = None, end: int | None = None
) -> str:
    """The whole document, escaped, with ``text[start:end]`` marked and scrolled into view."""
    highlight = start is not None and end is not None and 0 <= start < end <= len(text)
    if highlight:
        body = (
            f'{escape(text[:start])}<mark id="hl">{escape(text[start:end])}</mark>'
            f"{escape(text[end:])}"
        )
        where = f" · {location(start, end)}"
    else:
        body, where = escape(text), ""
    # The link's #hl scrolls to the highlight, below the sticky header (scroll-margin-top);
    # a link without it gets the same place.
    script = (
        "<script>if(location.hash!=='#hl')document.getElementById('hl').scrollIntoView()</script>"
        if highlight
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} — Verbatim</title><style>{STYLE}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><span class="meta"><code>{escape(source)}</code>'
        f'{where} · {len(text):,} characters</span><a href="/">← Ask Verbatim</a></header>'
        f'<main><pre class="doc">{body}</pre></main>{script}</body></html>'
    )


def error_page(title: str, message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} — Verbatim</title><style>{STYLE}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><a href="/">← Ask Verbatim</a></header>'
        f"<main><p>{escape(message)}</p></main></body></html>"
    )


def embed_page(widget_url: str) -> str:
    """A demo host page embedding the widget twice: as a web component and as an iframe."""
    url = escape(widget_url, quote=True)
    snippet_wc = escape(
        f'<script type="module" src="{widget_url.rsplit("/widget", 1)[0]}/gradio.js"></script>\n'
        f'<gradio-app src="{widget_url}"></gradio-app>'
    )
    snippet_if = escape(
        f'<iframe src="{widget_url}" width="400" height="600" allow="clipboard-write" '
        'style="border:1px solid #d1d9e0;border-radius:8px" title="Ask Verbatim"></iframe>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<title>Embed Verbatim — demo host page</title>"
        f"<style>{STYLE}"
        # Each demo is as wide as the screen allows, up to the 400 px box it shows.
        ".demos{display:flex;gap:2em;flex-wrap:wrap;justify-content:center;margin:1.5em 1em}"
        ".demo{width:400px;max-width:100%;min-width:0}"
        ".demo h2{font-size:1em;margin:.2em 0 .6em}"
        ".box{display:block;width:100%;height:600px;border:1px solid var(--line);"
        "border-radius:8px;overflow:hidden;background:var(--sheet)}"
        "pre.snippet{white-space:pre-wrap;overflow-wrap:anywhere;font:.8em ui-monospace,"
        "monospace;background:var(--code);padding:.6em;border-radius:6px;margin:.6em 0 0}"
        "</style>"
        f'<script type="module" src="/gradio.js"></script></head><body>'
        '<header><h1>Embed Verbatim in your site</h1><span class="meta">This page is a '
        "stand-in for your site: the same widget, embedded two ways.</span>"
        '<a href="/">← Verbatim</a></header>'
        '<div class="demos">'
        '<section class="demo" id="demo-wc"><h2>As a web component</h2>'
        f'<div class="box"><gradio-app src="{url}"></gradio-app></div>'
        f'<pre class="snippet">{snippet_wc}</pre></section>'
        '<section class="demo" id="demo-iframe"><h2>As an iframe</h2>'
        f'<iframe class="box" src="{url}" allow="clipboard-write" title="Ask Verbatim">'
        "</iframe>"
        f'<pre class="snippet">{snippet_if}</pre></section>'
        "</div></body></html>"
    )
