// pubdata-sandbox console: progressive enhancement only. Every page works without this file;
// with it, the risk preview follows the form, job statuses update themselves, SQL is highlighted
// and a downloaded file can be checked against its signed manifest in the browser.

const csrfOf = (form) => form.querySelector('input[name="_csrf"]')?.value ?? '';

// 1. the application form's live risk preview
for (const form of document.querySelectorAll('form[data-preview]')) {
  const target = document.getElementById('risk-preview');
  let timer;
  let seq = 0;
  const refresh = async () => {
    const mine = ++seq;
    const body = new URLSearchParams(new FormData(form));
    const res = await fetch(form.dataset.preview, {
      method: 'POST',
      headers: { 'x-csrf-token': csrfOf(form), 'content-type': 'application/x-www-form-urlencoded' },
      body,
      credentials: 'same-origin',
    });
    if (mine === seq && res.ok && target) target.innerHTML = await res.text();
  };
  form.addEventListener('change', () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
}

// 1b. a masking choice shows only the chosen rule's parameters (without this file all are shown,
// each labelled with its rule); the hidden ones are disabled so the browser neither checks nor sends them
for (const box of document.querySelectorAll('[data-mask-choice]')) {
  const select = box.querySelector('select');
  const sync = () => {
    for (const group of box.querySelectorAll('.mask-params')) {
      const off = group.dataset.family !== select.value;
      group.hidden = off;
      for (const input of group.querySelectorAll('input')) input.disabled = off;
    }
  };
  select.addEventListener('change', sync);
  sync();
}

// 2. live job status
const live = () => [...document.querySelectorAll('[data-job][data-live]')];
const note = document.querySelector('[data-live-note]');
async function poll() {
  const items = live();
  if (items.length === 0) return;
  const ids = [...new Set(items.map((e) => e.dataset.job))].join(',');
  try {
    const res = await fetch(`/console/jobs/status?ids=${encodeURIComponent(ids)}`, { credentials: 'same-origin' });
    if (res.ok) {
      const statuses = await res.json();
      for (const e of items) {
        const s = statuses[e.dataset.job];
        if (!s) continue;
        e.innerHTML = s.badge;
        if (!s.live) {
          e.removeAttribute('data-live');
          if (note) note.textContent = `作业 ${e.dataset.job} 状态：${e.textContent}`;
          if (e.hasAttribute('data-reload')) location.reload();
        }
      }
    }
  } catch {
    // offline for a moment: try again on the next tick
  }
  if (live().length > 0) setTimeout(poll, 1000);
}
setTimeout(poll, 1000);

// 2b. a contract's snapshot build: the meter and its words updated in place; once it is signed
// (or failed) the note says so, with a link to the contract — nothing reloads under the reader
const build = document.querySelector('[data-contract-build][data-live]');
async function pollBuild() {
  const id = build.dataset.contractBuild;
  try {
    const res = await fetch(`/console/contracts/${encodeURIComponent(id)}/build`, { credentials: 'same-origin' });
    if (res.ok) {
      const b = await res.json();
      build.querySelector('meter').value = b.percent;
      build.querySelector('[data-build-text]').textContent = b.text;
      if (!b.live) {
        build.removeAttribute('data-live');
        const note = build.querySelector('[data-build-note]');
        note.textContent = `${b.note} `;
        const link = document.createElement('a');
        link.href = `/console/contracts/${encodeURIComponent(id)}`;
        link.textContent = '查看合约';
        note.append(link);
        return;
      }
    }
  } catch {
    // offline for a moment: try again on the next tick
  }
  setTimeout(pollBuild, 1000);
}
if (build) setTimeout(pollBuild, 1000);

// 3. SQL highlighting: the textarea stays the control (and what screen readers read); a
// highlighted copy is drawn beneath its transparent text
const KEYWORDS = new Set(
  'select from where group by order having limit offset as and or not in is null like between case when then else end join left right inner outer full on using with distinct union all except intersect asc desc count sum avg min max round cast over partition filter coalesce true false'.split(
    ' ',
  ),
);
const esc = (s) => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
function highlight(sql) {
  const re = /(--[^\n]*)|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|([\s\S])/g;
  let out = '';
  for (const m of sql.matchAll(re)) {
    if (m[1]) out += `<span class="t-comment">${esc(m[1])}</span>`;
    else if (m[2]) out += `<span class="t-string">${esc(m[2])}</span>`;
    else if (m[3]) out += `<span class="t-ident">${esc(m[3])}</span>`;
    else if (m[4]) out += `<span class="t-number">${esc(m[4])}</span>`;
    else if (m[5]) out += KEYWORDS.has(m[5].toLowerCase()) ? `<span class="t-keyword">${esc(m[5])}</span>` : esc(m[5]);
    else out += esc(m[6]);
  }
  return `${out}\n`;
}
for (const area of document.querySelectorAll('textarea[data-sql]')) {
  const wrap = area.parentElement;
  const pre = document.createElement('pre');
  pre.className = 'sql-highlight';
  pre.setAttribute('aria-hidden', 'true');
  wrap.prepend(pre);
  wrap.classList.add('enhanced');
  const sync = () => {
    pre.innerHTML = highlight(area.value);
    pre.scrollTop = area.scrollTop;
    pre.scrollLeft = area.scrollLeft;
  };
  area.addEventListener('input', sync);
  area.addEventListener('scroll', sync);
  sync();
}

// 4. a downloaded file checked against the manifest's SHA-256, in the browser (nothing uploaded)
for (const input of document.querySelectorAll('input[data-verify]')) {
  const box = input.closest('[data-hashes]');
  const out = box?.querySelector('[data-verify-result]');
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (!file || !out) return;
    if (!crypto.subtle) {
      out.textContent = '此页面不在安全连接上，浏览器无法计算 SHA-256；请用 pds verify-output 校验。';
      return;
    }
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
    const hashes = JSON.parse(box.dataset.hashes);
    const match = Object.entries(hashes).find(([, h]) => h === hex);
    out.className = match ? 'verified' : 'warn';
    out.textContent = match
      ? `✓ ${file.name} 与发布清单中 ${match[0]} 格式的 SHA-256 一致（${hex.slice(0, 16)}…）`
      : `✗ ${file.name} 与发布清单中任何格式都不一致（${hex.slice(0, 16)}…）：文件不是发布的那一份`;
  });
}
