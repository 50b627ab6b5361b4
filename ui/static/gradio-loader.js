// The web component's script: gradio's own (MODULE, served by this server), and a clear
// message in place of the widget on a page whose site this server refuses. Every site may
// load this file; only the sites the server allows (--allow-origin) get gradio's code, the
// widget and its answers. The message names nothing of the server's settings.
const server = new URL(import.meta.url).origin;
const say = (text) => {
  document.querySelectorAll('gradio-app').forEach((app) => {
    const src = app.getAttribute('src') || '';
    let origin = '';
    try { origin = new URL(src, location.href).origin; } catch (e) { return; }
    if (origin !== server || app.querySelector('.vb-refused')) return;
    const note = document.createElement('p');
    note.className = 'vb-refused';
    note.setAttribute('role', 'alert');
    note.style.cssText = 'margin:0;padding:1em;font:15px/1.5 system-ui,sans-serif;'
      + 'color:#1f2328;background:#fff8e1;border:1px solid #d4a72c;border-radius:6px';
    note.textContent = text;
    app.replaceChildren(note);
  });
};
import(MODULE).catch(async () => {
  // The module is refused to a site the server does not allow (no CORS grant), or the
  // server is gone: asking for this file again tells which.
  const reachable = await fetch(import.meta.url, { method: 'HEAD', cache: 'no-store' })
    .then(() => true, () => false);
  say(reachable
    ? `Verbatim cannot be shown here: the server at ${server} does not allow this site `
      + 'to embed it. Its administrator can allow it with '
      + `verbatim serve --allow-origin ${location.origin}`
    : `Verbatim cannot be shown here: the server at ${server} cannot be reached.`);
});
