() => {
  if (window.__vbCopy) return;
  window.__vbCopy = true;
  document.addEventListener('click', async (e) => {
    const btn = e.composedPath().find((n) => n.classList && n.classList.contains('vb-copy'));
    if (!btn) return;
    const box = btn.closest('.vb-answer');
    const quote = box.querySelector('.vb-quote').innerText.replace(/\s*\[1\]\s*$/, '');
    // textContent, not innerText: the citation is a flex row, which innerText splits.
    const cite = box.querySelector('.vb-cite').textContent.replace(/\s+/g, ' ')
      .replace(/\s*Cop(y|ied)\s*$/, '');
    const text = `"${quote.trim()}"\n— ${cite.replace(/^\[1\]\s*/, '').trim()}`;
    try { await navigator.clipboard.writeText(text); }
    catch (err) {
      const t = document.createElement('textarea'); t.value = text;
      document.body.appendChild(t); t.select(); document.execCommand('copy'); t.remove();
    }
    btn.textContent = 'Copied'; setTimeout(() => { btn.textContent = 'Copy'; }, 1500);
  });
}
