() => {
  // The page's behaviour, once per page: Copy, where the eye lands after an answer, and
  // focus on the question box without scrolling the page (autofocus would, on a phone).
  if (window.__vb) return;
  window.__vb = true;

  // Copy: the quote and its citation, as one would paste them.
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

  // A new answer's first line comes into view (not the end of its passages): the chat's
  // scrolling box is moved so that the answer starts at its top.
  const scroller = (el) => {
    for (let n = el.parentElement; n; n = n.parentElement) {
      const y = getComputedStyle(n).overflowY;
      if ((y === 'auto' || y === 'scroll') && n.scrollHeight > n.clientHeight) return n;
    }
    return null;
  };
  const seen = new WeakSet();
  const reveal = () => {
    const answers = document.querySelectorAll('.vb-answer, .vb-error');
    answers.forEach((a) => {
      if (seen.has(a)) return;
      seen.add(a);
      if (a !== answers[answers.length - 1]) return;
      const box = scroller(a);
      if (!box) return;
      const top = a.getBoundingClientRect().top - box.getBoundingClientRect().top;
      box.scrollTop += top - 48; // the question's bubble stays in sight above it
    });
  };
  // A message's accessible name is its text, not the HTML Gradio puts in aria-label.
  const labels = () => {
    document.querySelectorAll('[aria-label*="<"]').forEach((el) => {
      const head = el.getAttribute('aria-label').split(':')[0].slice(0, 40);
      const text = el.textContent.replace(/\s+/g, ' ').trim().slice(0, 300);
      el.setAttribute('aria-label', text ? `${head}: ${text}` : head);
    });
  };
  const watch = new MutationObserver(() => requestAnimationFrame(() => { reveal(); labels(); }));
  watch.observe(document.body, { childList: true, subtree: true });

  // The question box takes the focus without scrolling the page.
  const focus = () => {
    const q = document.querySelector('#vb-question textarea, #vb-wquestion textarea');
    if (q) q.focus({ preventScroll: true }); else setTimeout(focus, 200);
  };
  focus();
}
