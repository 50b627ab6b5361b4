() => {
  // The page's behaviour, once per page: Copy, where the eye lands after an answer, the
  // comment form of a rated answer, and focus on the question box without scrolling the
  // page (autofocus would, on a phone).
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
  // Only when answers are added (a question, or the kept history put back), not when a
  // message is drawn again (a vote redraws the chat).
  let shown = 0;
  const reveal = () => {
    const answers = document.querySelectorAll('.vb-answer, .vb-error');
    const grew = answers.length > shown;
    shown = answers.length;
    if (!grew) return;
    const last = answers[answers.length - 1];
    const box = scroller(last);
    if (!box) return;
    const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop += top - 48; // the question's bubble stays in sight above it
  };
  // A message's accessible name is its text, not the HTML Gradio puts in aria-label.
  const labels = () => {
    document.querySelectorAll('[aria-label*="<"]').forEach((el) => {
      const head = el.getAttribute('aria-label').split(':')[0].slice(0, 40);
      const text = el.textContent.replace(/\s+/g, ' ').trim().slice(0, 300);
      el.setAttribute('aria-label', text ? `${head}: ${text}` : head);
    });
  };
  // A vote puts a comment form under the answer it rates; the one who voted goes on there.
  let voted = 0;
  document.addEventListener('click', (e) => {
    const b = e.composedPath().find((n) => n.tagName === 'BUTTON');
    const name = b && b.getAttribute('aria-label');
    if (name === 'Like' || name === 'Dislike') voted = Date.now();
  }, true);
  const say = (form, text, failed) => {
    let note = form.querySelector('.vb-rate-note');
    if (!note) {
      note = document.createElement('p');
      note.className = 'vb-rate-note';
      note.setAttribute('role', 'status');
      note.tabIndex = -1;
      form.appendChild(note);
    }
    note.textContent = text;
    note.classList.toggle('vb-rate-failed', !!failed);
    return note;
  };
  // The answers commented on, by their seal's signature, kept on this device like the
  // conversation: the chat draws an answer's form again (a vote elsewhere, a reload), and
  // it then shows the comment as saved, not an empty box.
  const COMMENTED = 'verbatim-commented';
  const keyOf = (form) => (form.closest('.vb-answer')?.querySelector('input.vb-seal')?.value || '')
    .split('.').pop();
  const commented = () => {
    try { return JSON.parse(localStorage.getItem(COMMENTED) || '[]'); } catch (e) { return []; }
  };
  const remember = (form) => {
    const key = keyOf(form);
    const keys = commented().filter((k) => k !== key).concat([key]).slice(-500);
    try { localStorage.setItem(COMMENTED, JSON.stringify(keys)); } catch (e) { /* full */ }
  };
  const saved = (form) => {
    form.querySelectorAll('label.vb-comment, button').forEach((n) => n.remove());
    return say(form, 'Thanks — your comment was saved.');
  };
  const rated = new WeakSet();
  const comment = () => {
    const done = commented();
    document.querySelectorAll('form.vb-rate').forEach((form) => {
      if (rated.has(form)) return;
      rated.add(form);
      if (done.includes(keyOf(form))) saved(form);
      else if (Date.now() - voted < 30000) {
        voted = 0;
        form.querySelector('input[name=comment]').focus();
      }
    });
  };
  document.addEventListener('submit', async (e) => {
    const form = e.target.closest && e.target.closest('form.vb-rate');
    if (!form) return;
    e.preventDefault();
    const input = form.querySelector('input[name=comment]');
    const seal = form.closest('.vb-answer')?.querySelector('input.vb-seal');
    if (!input.value.trim()) { say(form, 'Type a few words first.', true); input.focus(); return; }
    const send = form.querySelector('button');
    send.disabled = true;
    try {
      const r = await fetch(form.action, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ answer: seal ? seal.value : '', comment: input.value }),
      });
      const out = await r.json().catch(() => ({}));
      if (r.ok) {
        remember(form);
        saved(form).focus({ preventScroll: true });
      } else say(form, out.error || `The comment was not saved (HTTP ${r.status}).`, true);
    } catch (err) {
      say(form, 'The comment was not saved: the server cannot be reached.', true);
    } finally { send.disabled = false; }
  });

  const watch = new MutationObserver(() => requestAnimationFrame(() => {
    reveal(); labels(); comment();
  }));
  watch.observe(document.body, { childList: true, subtree: true });

  // The question box takes the focus without scrolling the page.
  const focus = () => {
    const q = document.querySelector('#vb-question textarea, #vb-wquestion textarea');
    if (q) q.focus({ preventScroll: true }); else setTimeout(focus, 200);
  };
  focus();
}
