/**
 * @module admin/assets
 * The dashboard's one stylesheet and one script, served from this origin (the CSP allows no
 * inline code). Nothing is built: what is here is what the browser gets.
 */

export const APP_CSS = `
:root{--fg:#1b1f24;--muted:#57606a;--bg:#f6f8fa;--card:#fff;--line:#d0d7de;--accent:#0a58ca;
--valid:#116329;--valid-bg:#dafbe1;--renewing:#0a3d91;--renewing-bg:#ddf4ff;--failing:#7d4e00;--failing-bg:#fff8c5;--needs:#a40e26;--needs-bg:#ffebe9;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);line-height:1.45}
*{box-sizing:border-box}body{margin:0}
a{color:var(--accent)}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid #fb8500;outline-offset:2px}
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:#fff;padding:6px 10px;z-index:2}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:8px 20px;padding:10px 20px;background:#24292f;color:#fff}
.brand{color:#fff;font-weight:700;text-decoration:none;font-size:1.1rem}
.top nav{display:flex;flex-wrap:wrap;align-items:center;gap:4px 14px;flex:1}
.top nav ul{display:flex;flex-wrap:wrap;gap:4px 14px;list-style:none;margin:0;padding:0}
.top nav a{color:#f0f3f6;text-decoration:none;padding:4px 2px;border-bottom:2px solid transparent}
.top nav a[aria-current=page]{border-bottom-color:#fff;font-weight:600}
.logout{margin-left:auto}.link{background:none;border:0;color:#f0f3f6;text-decoration:underline;padding:4px;cursor:pointer;font:inherit}
main{max-width:1240px;margin:0 auto;padding:16px 20px 48px}
h1{font-size:1.5rem;margin:8px 0 12px}h2{font-size:1.15rem;margin:16px 0 8px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin:10px 0}
.muted{color:var(--muted)}code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88em;overflow-wrap:anywhere}
button,.button{font:inherit;background:var(--accent);color:#fff;border:1px solid var(--accent);border-radius:6px;padding:6px 12px;cursor:pointer;text-decoration:none;display:inline-block}
button.danger{background:#fff;color:var(--needs);border-color:var(--needs)}
input,select{font:inherit;padding:6px 8px;border:1px solid #8c959f;border-radius:6px;background:#fff;color:var(--fg);max-width:100%}
label{font-weight:600}
.flash{padding:10px 12px;border-radius:6px;margin:10px 0;border:1px solid}
.flash.ok{background:var(--valid-bg);color:var(--valid);border-color:#4ac26b}.flash.error{background:var(--needs-bg);color:var(--needs);border-color:#ff8182}
.toolbar{display:flex;flex-wrap:wrap;gap:8px 20px;align-items:center;justify-content:space-between}
.filters{display:flex;flex-wrap:wrap;gap:6px 8px;align-items:center}
.counts{display:flex;flex-wrap:wrap;gap:6px;margin:0}.count{padding:2px 8px;border-radius:12px;text-decoration:none;font-size:.9rem}
.count.valid,.badge.valid{background:var(--valid-bg);color:var(--valid)}.count.renewing,.badge.renewing{background:var(--renewing-bg);color:var(--renewing)}
.count.failing,.badge.failing{background:var(--failing-bg);color:var(--failing)}.count.needs-action,.badge.needs-action{background:var(--needs-bg);color:var(--needs)}
.badge{display:inline-block;padding:1px 8px;border-radius:12px;font-size:.85rem;font-weight:600;border:1px solid currentColor}
.columns{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr);gap:20px}
@media (max-width:800px){.columns{grid-template-columns:minmax(0,1fr)}}
.certs,.resources{list-style:none;margin:0;padding:0}
.cert{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--line);border-radius:8px;padding:10px 12px;margin:8px 0}
.cert.valid{border-left-color:#1a7f37}.cert.renewing{border-left-color:#0969da}.cert.failing{border-left-color:#bf8700}.cert.needs-action{border-left-color:#cf222e}
.cert-head{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center;justify-content:space-between}
.name{font-weight:600;overflow-wrap:anywhere}
.cert-life{display:flex;flex-wrap:wrap;align-items:center;gap:4px 10px;margin-top:6px}
meter.life{width:220px;max-width:100%;height:14px}
.life-text{font-size:.9rem;color:var(--muted)}
.failure{margin-top:8px;background:var(--failing-bg);border-radius:6px;padding:8px 10px;color:#3b2300}
.failure p{margin:4px 0}.cert.needs-action .failure{background:var(--needs-bg);color:#5c0010}
.inline{display:inline-flex;gap:8px;align-items:center;flex-wrap:wrap}.result{font-size:.9rem}
.events{list-style:none;margin:0;padding:0;font-size:.9rem}
.events li{padding:6px 0;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
.events li.new{animation:flash 2s ease-out}@keyframes flash{from{background:#fff8c5}to{background:transparent}}
.events time{font-family:ui-monospace,monospace;color:var(--muted)}
.ev{font-family:ui-monospace,monospace;font-size:.85em;padding:0 4px;border-radius:4px;background:#eaeef2}
.ev.cert_obtained{background:var(--valid-bg);color:var(--valid)}.ev.cert_failed,.ev.attempts_exhausted{background:var(--needs-bg);color:var(--needs)}
.ev-name{font-weight:600}
.table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px;margin:10px 0}
.table th,.table td{text-align:left;padding:8px 10px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
@media (max-width:640px){.table thead{position:absolute;left:-9999px}.table tr{display:block;border-bottom:2px solid var(--line)}.table td{display:block;border:0;padding:4px 10px}}
.verdict{font-weight:700;text-transform:uppercase;font-size:.8rem;padding:1px 6px;border-radius:4px;background:#eaeef2}
.verdict.added,.verdict.trusted,.verdict.ok,.verdict.pass,.verdict.would-add{background:var(--valid-bg);color:var(--valid)}
.verdict.refused,.verdict.expired,.verdict.leaf,.verdict.unreadable,.verdict.fail{background:var(--needs-bg);color:var(--needs)}
.verdict.skipped,.verdict.warn,.verdict.skip{background:var(--failing-bg);color:var(--failing)}
.drop{border:2px dashed #8c959f}.drop.over{border-color:var(--accent);background:#ddf4ff}
.drop label{display:block;margin-bottom:6px}.verdicts{display:block;margin-top:8px}
.verdicts .v{display:block;padding:6px 8px;border-radius:6px;margin:4px 0}
.verdicts .v.refused{background:var(--needs-bg);color:var(--needs)}.verdicts .v.added,.verdicts .v.would-add{background:var(--valid-bg);color:var(--valid)}.verdicts .v.skipped{background:var(--failing-bg);color:var(--failing)}
.layers{list-style:none;padding:0;margin:6px 0}.layer,.fix,.flash,.pin p,.result{overflow-wrap:anywhere}.layer.skipped .verdict{background:#eaeef2;color:var(--muted)}
.field{display:inline-flex;gap:6px;align-items:center;flex-wrap:wrap}.layer{padding:4px 0}.fix{color:#3b2300}
.layer.fail .fix{color:var(--needs)}
.pin{margin-top:8px;padding:8px;background:#ddf4ff;border-radius:6px}
.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:4px 14px}
.facts dt{font-weight:600}.facts dd{margin:0;overflow-wrap:anywhere}
@media (max-width:640px){.facts{grid-template-columns:minmax(0,1fr)}.facts dd{margin-bottom:6px}}
.chain li{margin:6px 0}.fp{font-size:.8rem}
pre{background:#24292f;color:#f0f3f6;padding:10px;border-radius:6px;overflow:auto;max-width:100%}
.pager{display:flex;gap:14px;align-items:center;margin:12px 0}
.login{max-width:420px;display:flex;flex-direction:column;gap:8px}
.inline-form{display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.empty{color:var(--muted);font-style:italic}
.checks{list-style:none;padding:0}.check{padding:4px 0}
`;

export const APP_JS = `'use strict';
(function () {
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  function api(method, path, body) {
    return fetch(path, { method: method, credentials: 'same-origin', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, status: r.status, body: j }; }); });
  }
  function errorText(b) { var e = b && b.error; return e ? e.code + ': ' + e.message + (e.fix ? '. Fix: ' + e.fix : '') : 'failed'; }

  // The live event log: Server-Sent Events from /api/events/stream.
  var log = $('#live-events');
  if (log && window.EventSource) {
    var status = $('#live-status');
    var es = new EventSource('/api/events/stream');
    es.addEventListener('ready', function () { if (status) status.textContent = 'Live: new events appear at the top.'; });
    es.addEventListener('cert', function (m) {
      var e = JSON.parse(m.data);
      var li = el('li', 'new');
      var t = el('time', null, e.at.slice(11, 19)); t.setAttribute('datetime', e.at);
      li.appendChild(t); li.appendChild(document.createTextNode(' '));
      li.appendChild(el('span', 'ev ' + e.type, e.type)); li.appendChild(document.createTextNode(' '));
      li.appendChild(el('span', 'ev-name', e.name)); li.appendChild(document.createTextNode(' ' + e.message));
      log.insertBefore(li, log.firstChild);
      while (log.children.length > 200) log.removeChild(log.lastChild);
      var row = document.querySelector('.cert[data-name="' + CSS.escape(e.name) + '"] .cert-head');
      if (row && (e.type === 'cert_obtained' || e.type === 'cert_failed') && !row.querySelector('.stale')) {
        var a = el('a', 'stale', 'changed: reload'); a.href = location.href; row.appendChild(a);
      }
    });
    es.onerror = function () { if (status) status.textContent = 'Live updates paused; reconnecting…'; };
  }

  // Retry / Renew now without a page load.
  $$('form.js-renew').forEach(function (f) {
    f.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var out = $('.result', f), btn = $('button', f);
      btn.disabled = true; out.textContent = 'Obtaining…';
      api('POST', '/api/certificates/' + encodeURIComponent(f.dataset.name) + '/renew').then(function (r) {
        btn.disabled = false;
        out.textContent = r.ok ? 'Obtained: valid until ' + r.body.notAfter : errorText(r.body);
        if (r.ok) setTimeout(function () { location.reload(); }, 800);
      }, function () { btn.disabled = false; out.textContent = 'The admin API did not answer.'; });
    });
  });

  // Trust store: drop a file (or choose one) and see its verdict at once.
  var zone = $('#dropzone');
  if (zone) {
    var input = $('#trust-file', zone), verdicts = $('#verdicts', zone);
    var upload = function (file) {
      verdicts.textContent = 'Checking ' + file.name + '…';
      file.arrayBuffer().then(function (buf) {
        var bytes = new Uint8Array(buf), s = '';
        for (var i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        return api('POST', '/api/trust', { filename: file.name, content: btoa(s), encoding: 'base64' });
      }).then(function (r) {
        verdicts.textContent = '';
        if (!r.ok) { verdicts.appendChild(el('span', 'v refused', errorText(r.body))); return; }
        r.body.verdicts.forEach(function (v) {
          verdicts.appendChild(el('span', 'v ' + v.verdict, v.verdict.toUpperCase() + ': ' + v.reason + (v.fix && v.verdict === 'refused' ? ' Fix: ' + v.fix : '')));
        });
        if (r.body.added) { var a = el('a', null, 'Reload the list'); a.href = '/trust'; verdicts.appendChild(a); }
      });
    };
    zone.addEventListener('submit', function (ev) { if (input.files && input.files[0]) { ev.preventDefault(); upload(input.files[0]); } });
    input.addEventListener('change', function () { if (input.files && input.files[0]) upload(input.files[0]); });
    ['dragenter', 'dragover'].forEach(function (t) { zone.addEventListener(t, function (ev) { ev.preventDefault(); zone.classList.add('over'); }); });
    ['dragleave', 'drop'].forEach(function (t) { zone.addEventListener(t, function () { zone.classList.remove('over'); }); });
    zone.addEventListener('drop', function (ev) { ev.preventDefault(); var f = ev.dataTransfer && ev.dataTransfer.files[0]; if (f) upload(f); });
  }

  // Resources: Test connection in place; Pin from the result.
  function renderTest(box, name, r) {
    box.textContent = '';
    var head = el('p'); head.appendChild(el('strong', null, r.status === 'ok' ? 'Connected' : r.status === 'warn' ? 'Connected, with warnings' : 'Failed'));
    head.appendChild(el('span', 'muted', ' ' + r.target + ', mode ' + r.mode)); box.appendChild(head);
    var ol = el('ol', 'layers'), marks = { ok: '✓', warn: '!', fail: '✗', skipped: '–' };
    r.layers.forEach(function (l) {
      var li = el('li', 'layer ' + l.status);
      li.appendChild(el('span', 'verdict ' + l.status, marks[l.status])); li.appendChild(document.createTextNode(' '));
      li.appendChild(el('strong', null, l.layer)); li.appendChild(el('span', 'visually-hidden', ' ' + l.status));
      li.appendChild(document.createTextNode(': ' + l.message));
      if (l.fix && l.status !== 'ok' && l.status !== 'skipped') { li.appendChild(el('br')); li.appendChild(el('span', 'fix', 'Fix: ' + l.fix)); }
      ol.appendChild(li);
    });
    box.appendChild(ol);
    if (r.presented) {
      var p = el('div', 'pin');
      p.appendChild(el('p', null, 'The server presents "' + r.presented.subject + '"' + (r.presented.selfSigned ? ' (self-signed)' : '') + ', SHA-256 ' + r.presented.sha256 + '.'));
      var b = el('button', null, 'Pin this certificate'); b.type = 'button';
      var out = el('output', 'result'); out.setAttribute('aria-live', 'polite');
      b.addEventListener('click', function () {
        b.disabled = true; out.textContent = 'Pinning…';
        api('POST', '/api/resources/' + encodeURIComponent(name) + '/pin', { sha256: r.presented.sha256 }).then(function (x) {
          out.textContent = x.ok ? 'Pinned: mode pinned, SHA-256 ' + x.body.pinned.sha256 + '. Test again to check.' : errorText(x.body);
          b.disabled = x.ok;
        });
      });
      p.appendChild(b); p.appendChild(document.createTextNode(' ')); p.appendChild(out); box.appendChild(p);
    }
  }
  $$('form.js-test').forEach(function (f) {
    f.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var box = $('.test-result', f.parentNode), btn = $('button', f);
      btn.disabled = true; box.textContent = 'Testing DNS, TCP, TLS, auth, topology…';
      api('POST', '/api/resources/' + encodeURIComponent(f.dataset.name) + '/test', {}).then(function (r) {
        btn.disabled = false;
        if (!r.ok) { box.textContent = errorText(r.body); return; }
        renderTest(box, f.dataset.name, r.body);
      }, function () { btn.disabled = false; box.textContent = 'The admin API did not answer.'; });
    });
  });
})();
`;
