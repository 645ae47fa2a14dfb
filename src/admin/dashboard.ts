/**
 * @module admin/dashboard
 * The dashboard's pages and form actions. Pages are rendered here from the same modules the API
 * calls; forms post to /ui/... and come back with a 303 and a message (Post/Redirect/Get), so
 * nothing needs JavaScript. /assets/app.js enhances: the live event log (SSE), drag-and-drop
 * trust upload, Retry and Test connection without a page load, one-click pinning.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { CertgateError } from '../errors.ts';
import { checkIssuable } from '../manager/policy.ts';
import { loadResources } from '../profiles/registry.ts';
import { type AdminEnv, settingsView } from './api.ts';
import { APP_CSS, APP_JS } from './assets.ts';
import { CERT_STATES, type CertificateRow, type CertState, certificateDetail, certificateRows, pageOf } from './certificates.ts';
import type { AdminContext } from './context.ts';
import { html, page, Raw, relative } from './html.ts';
import { pinNamed, testNamed } from './resources.ts';
import { type AuthKit, SESSION_COOKIE } from './session.ts';
import { listTrust, removeTrust, uploadTrust } from './trust.ts';

const STATE_LABEL: Record<CertState, string> = { valid: 'Valid', renewing: 'Renewing', failing: 'Failing', 'needs-action': 'Needs action' };

function flashOf(c: Context, kit: AuthKit) {
  const s = kit.sessions.get(getCookie(c, SESSION_COOKIE));
  const f = s?.flash ?? null;
  if (s) s.flash = null;
  return f;
}

function say(c: Context, kit: AuthKit, kind: 'ok' | 'error', text: string, to: string) {
  const s = kit.sessions.get(getCookie(c, SESSION_COOKIE));
  if (s) s.flash = { kind, text };
  return c.redirect(to, 303);
}

function errText(err: unknown): string {
  if (err instanceof CertgateError) return `${err.code}: ${err.message}${err.fix ? `. Fix: ${err.fix}` : ''}`;
  return 'the action failed (see the server log)';
}

/** The time-left bar: a meter over the certificate's own lifetime, yellow from its renewal point. */
function lifeBar(r: CertificateRow): Raw {
  if (r.lifeLeft === null || !r.notBefore || !r.notAfter) return html`<span class="muted">no certificate yet</span>`;
  const life = Date.parse(r.notAfter) - Date.parse(r.notBefore);
  const renewAt = r.renewFrom ? Math.max(0, Math.min(1, (Date.parse(r.notAfter) - Date.parse(r.renewFrom)) / life)) : 1 / 3;
  const pct = Math.round(r.lifeLeft * 100);
  const days = Math.round(life / 86_400_000);
  return html`<meter class="life" min="0" max="1" low="${(renewAt / 2).toFixed(4)}" high="${renewAt.toFixed(4)}" optimum="1" value="${r.lifeLeft.toFixed(4)}" aria-label="${pct}% of its ${days}-day lifetime left">${pct}%</meter>
  <span class="life-text">${pct}% of ${days} days left · expires ${relative(r.notAfter)}${r.renewFrom ? html` · renews ${relative(r.renewFrom)}` : ''}</span>`;
}

function badge(state: CertState): Raw {
  return html`<span class="badge ${state}">${STATE_LABEL[state]}</span>`;
}

function retryForm(name: string, label = 'Retry'): Raw {
  return html`<form method="post" action="/ui/certificates/${encodeURIComponent(name)}/renew" class="inline js-renew" data-name="${name}"><button type="submit">${label}</button><output class="result" aria-live="polite"></output></form>`;
}

export function dashboardRoutes(app: OpenAPIHono<AdminEnv>, ctx: AdminContext, kit: AuthKit): void {
  app.get('/assets/app.css', (c) => c.body(APP_CSS, 200, { 'content-type': 'text/css; charset=utf-8' }));
  app.get('/assets/app.js', (c) => c.body(APP_JS, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/favicon.ico', (c) => c.body(null, 204));

  app.get('/login', (c) => {
    const e = c.req.query('error');
    const flash =
      e === 'token'
        ? { kind: 'error' as const, text: 'That token is not valid (wrong, or revoked). Make one with: certgate admin token create' }
        : e === 'rate'
          ? { kind: 'error' as const, text: 'Too many failed sign-ins from this address: wait a minute.' }
          : null;
    return c.html(
      page({
        title: 'Sign in',
        path: '/login',
        signedIn: false,
        flash,
        body: html`<form method="post" action="/login" class="card login">
  <label for="token">Admin token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required spellcheck="false" aria-describedby="token-help">
  <p id="token-help" class="muted">Make one on the server with <code>certgate admin token create</code>.</p>
  <button type="submit">Sign in</button>
</form>`,
      }),
    );
  });

  app.get('/', async (c) => {
    const q = c.req.query('q')?.trim().slice(0, 253) || undefined;
    const stateQ = c.req.query('state');
    const state = (CERT_STATES as readonly string[]).includes(stateQ ?? '') ? (stateQ as CertState) : undefined;
    const pageNo = Math.max(1, Math.min(1_000_000, Number.parseInt(c.req.query('page') ?? '1', 10) || 1));
    const result = pageOf(await certificateRows(ctx.store, Date.now(), ctx.states), { q, state, page: pageNo, perPage: 50, sort: 'name' });
    const details = new Map(
      await Promise.all(
        result.items
          .filter((r) => r.state === 'failing' || r.state === 'needs-action')
          .map(async (r) => [r.name, await certificateDetail(ctx.store, r.name)] as const),
      ),
    );
    const events = kit.recent.latest(15);
    const link = (p: number) => `/?${new URLSearchParams({ ...(q ? { q } : {}), ...(state ? { state } : {}), page: String(p) })}`;
    const pages = Math.max(1, Math.ceil(result.total / result.perPage));
    const rows = result.items.map((r) => {
      const d = details.get(r.name);
      const failure = d?.lastFailure
        ? html`<div class="failure" role="note"><p><strong>Why:</strong> ${d.lastFailure.message}</p>${d.lastFailure.fix ? html`<p><strong>Fix:</strong> ${d.lastFailure.fix}</p>` : ''}<p class="muted">${r.summary}</p>${retryForm(r.name)}</div>`
        : r.state === 'failing' || r.state === 'needs-action'
          ? html`<div class="failure"><p>${r.summary}</p>${retryForm(r.name)}</div>`
          : '';
      return html`<li class="cert ${r.state}" data-name="${r.name}">
  <div class="cert-head"><a href="/certificates/${encodeURIComponent(r.name)}" class="name">${r.name}</a> ${badge(r.state)}</div>
  <div class="cert-life">${lifeBar(r)}</div>
  ${failure}
</li>`;
    });
    const counts = CERT_STATES.map((s) => html`<a class="count ${s}" href="/?state=${s}">${STATE_LABEL[s]}: ${result.counts[s]}</a>`);
    return c.html(
      page({
        title: 'Certificates',
        path: '/',
        flash: flashOf(c, kit),
        body: html`<section aria-labelledby="filter-h" class="toolbar">
  <h2 id="filter-h" class="visually-hidden">Filter</h2>
  <form method="get" action="/" class="filters">
    <span class="field"><label for="q">Name contains</label> <input id="q" name="q" value="${q ?? ''}" type="search"></span>
    <span class="field"><label for="state">State</label>
    <select id="state" name="state"><option value="">any</option>${CERT_STATES.map((s) => html`<option value="${s}"${new Raw(s === state ? ' selected' : '')}>${STATE_LABEL[s]}</option>`)}</select></span>
    <button type="submit">Filter</button>
  </form>
  <p class="counts">${counts}</p>
</section>
<div class="columns">
<section aria-labelledby="certs-h" class="main-col">
  <h2 id="certs-h">${result.total} certificate${result.total === 1 ? '' : 's'}</h2>
  ${result.items.length ? html`<ul class="certs" id="cert-list">${rows}</ul>` : html`<p class="empty" id="cert-list">No certificates${q || state ? ' match' : ' yet: add a domain, or visit one'}.</p>`}
  ${pages > 1 ? html`<nav class="pager" aria-label="Pages">${pageNo > 1 ? html`<a href="${link(pageNo - 1)}" rel="prev">← Previous</a>` : ''}<span>Page ${pageNo} of ${pages}</span>${pageNo < pages ? html`<a href="${link(pageNo + 1)}" rel="next">Next →</a>` : ''}</nav>` : ''}
</section>
<section aria-labelledby="live-h" class="side-col">
  <h2 id="live-h">Event log</h2>
  <p class="muted live-status" id="live-status">Since this server started; live updates need JavaScript.</p>
  <p class="muted"><a href="/events">All recorded events</a></p>
  <ol class="events" id="live-events" aria-live="polite">${events.map((e) => html`<li><time datetime="${e.at}">${e.at.slice(11, 19)}</time> <span class="ev ${e.type}">${e.type}</span> <span class="ev-name">${e.name}</span> ${e.message}</li>`)}</ol>
</section>
</div>`,
      }),
    );
  });

  app.get('/certificates/:name', async (c) => {
    let name: string;
    try {
      name = checkIssuable(c.req.param('name'), { allowIp: true });
    } catch (err) {
      return c.html(page({ title: 'Certificate', path: '/', body: html`<p class="flash error">${errText(err)}</p>` }), 400);
    }
    const d = await certificateDetail(ctx.store, name);
    if (!d) return c.html(page({ title: name, path: '/', body: html`<p>Nothing is known about ${name}. <a href="/domains">Add it as a domain</a>.</p>` }), 404);
    const problem = d.lastFailure?.problem ? JSON.stringify(d.lastFailure.problem, null, 2) : null;
    return c.html(
      page({
        title: name,
        path: '/',
        flash: flashOf(c, kit),
        body: html`<p>${badge(d.state)} ${d.summary}</p>
<div class="card">${lifeBar(d)}</div>
<dl class="facts">
  <dt>Names</dt><dd>${d.names.join(', ')}</dd>
  <dt>Issuer</dt><dd>${d.issuer ?? '—'}</dd>
  <dt>Valid</dt><dd>${d.notBefore ?? '—'} → ${d.notAfter ?? '—'}</dd>
  <dt>Renewal from</dt><dd>${d.renewFrom ?? '—'}${d.renewalWhy ? html` <span class="muted">(${d.renewalWhy})</span>` : ''}</dd>
  <dt>Attempts</dt><dd>${d.attempts}</dd>
  <dt>Next try</dt><dd>${d.state === 'needs-action' ? 'none: automatic retries stopped; fix the cause and retry' : (d.nextAttemptAt ?? (d.state === 'valid' ? 'at renewal' : 'at the next maintenance cycle'))}</dd>
  <dt>Key</dt><dd>${d.keyType ?? '—'}</dd>
</dl>
${
  d.lastFailure
    ? html`<section class="failure card" aria-labelledby="fail-h"><h2 id="fail-h">Last failure (${d.lastFailure.at})</h2>
  <p><strong>In plain words:</strong> ${d.lastFailure.message}</p>
  ${d.lastFailure.fix ? html`<p><strong>Fix:</strong> ${d.lastFailure.fix}</p>` : ''}
  ${problem ? html`<details><summary>As the CA sent it</summary><pre>${problem}</pre></details>` : ''}
</section>`
    : ''
}
<p>${retryForm(name, d.state === 'valid' ? 'Renew now' : 'Retry')}</p>
<section aria-labelledby="chain-h"><h2 id="chain-h">Chain</h2>
<ol class="chain">${d.chain.map((x) => html`<li><strong>${x.subject}</strong> <span class="muted">(${x.kind}) issued by ${x.issuer}; until ${x.notAfter}</span><br><code class="fp">SHA-256 ${x.sha256}</code></li>`)}</ol></section>
<section aria-labelledby="ev-h"><h2 id="ev-h">Events</h2>
<ol class="events">${[...d.events].reverse().map((e) => html`<li><time datetime="${e.at}">${e.at.replace('T', ' ').slice(0, 19)}</time> <span class="ev ${e.type}">${e.type}</span> ${e.message}</li>`)}</ol></section>`,
      }),
    );
  });

  app.post('/ui/certificates/:name/renew', async (c) => {
    const raw = c.req.param('name');
    const back = `/certificates/${encodeURIComponent(raw)}`;
    try {
      const name = checkIssuable(raw, { allowIp: ctx.allowIp });
      if (!ctx.manager) return say(c, kit, 'error', 'ACME is off here: certificates come from the local CA.', back);
      const existing = await ctx.store.getBundle(name);
      const r = await ctx.manager.obtain(name, { force: true, renew: Boolean(existing), reason: 'dashboard' });
      await ctx.refresh([name]);
      return say(c, kit, 'ok', `${name}: obtained, valid until ${r.bundle.meta.notAfter}.`, back);
    } catch (err) {
      return say(c, kit, 'error', errText(err), back);
    }
  });

  app.get('/domains', async (c) => {
    const l = await ctx.registry.list();
    const rows = new Map((await certificateRows(ctx.store, Date.now(), ctx.states)).map((r) => [r.name, r]));
    const list = [
      ...(l.main ? [{ name: l.main, role: 'main', addedAt: null as string | null }] : []),
      ...l.custom.filter((d) => d.name !== l.main).map((d) => ({ name: d.name, role: 'custom', addedAt: d.addedAt })),
    ];
    return c.html(
      page({
        title: 'Domains',
        path: '/domains',
        flash: flashOf(c, kit),
        body: html`<form method="post" action="/ui/domains" class="card inline-form">
  <label for="dn">Add a custom domain</label><input id="dn" name="name" required placeholder="shop.example.com" autocomplete="off">
  <button type="submit">Add</button>
</form>
${l.main ? '' : html`<p class="muted">No main domain: the first domain visited becomes it (or set CERTGATE_DOMAIN).</p>`}
<table class="table"><caption class="visually-hidden">Domains and their certificate state</caption>
<thead><tr><th scope="col">Domain</th><th scope="col">Role</th><th scope="col">Certificate</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${list.map((d) => {
          const r = rows.get(d.name);
          return html`<tr><td><a href="/certificates/${encodeURIComponent(d.name)}">${d.name}</a></td><td>${d.role}</td><td>${r ? html`${badge(r.state)} <span class="muted">${r.summary}</span>` : html`<span class="muted">none yet</span>`}</td>
<td>${d.role === 'custom' ? html`<form method="post" action="/ui/domains/${encodeURIComponent(d.name)}/remove" class="inline"><button type="submit" class="danger" aria-label="Remove ${d.name}">Remove</button></form>` : ''}</td></tr>`;
        })}</tbody></table>`,
      }),
    );
  });
  app.post('/ui/domains', async (c) => {
    const form = await c.req.parseBody();
    try {
      const name = await ctx.registry.add(String(form.name ?? ''));
      return say(c, kit, 'ok', `${name} added.`, '/domains');
    } catch (err) {
      return say(c, kit, 'error', errText(err), '/domains');
    }
  });
  app.post('/ui/domains/:name/remove', async (c) => {
    try {
      const name = await ctx.registry.remove(c.req.param('name'));
      return say(c, kit, 'ok', `${name} removed.`, '/domains');
    } catch (err) {
      return say(c, kit, 'error', errText(err), '/domains');
    }
  });

  app.get('/events', async (c) => {
    const events = (await ctx.store.readEvents()).slice(-300).reverse();
    return c.html(
      page({
        title: 'Events',
        path: '/events',
        body: html`<p class="muted live-status" id="live-status">Newest first. Live updates need JavaScript.</p>
<ol class="events" id="live-events" aria-live="polite">${events.map((e) => html`<li><time datetime="${e.at}">${e.at.replace('T', ' ').slice(0, 19)}</time> <span class="ev ${e.type}">${e.type}</span> <a class="ev-name" href="/certificates/${encodeURIComponent(e.name)}">${e.name}</a> ${e.message}</li>`)}</ol>`,
      }),
    );
  });

  app.get('/trust', async (c) => {
    const t = await listTrust(ctx.dirs.caCerts);
    return c.html(
      page({
        title: 'Trust store',
        path: '/trust',
        flash: flashOf(c, kit),
        body: html`<form method="post" action="/ui/trust" enctype="multipart/form-data" class="card drop" id="dropzone">
  <label for="trust-file">Add a CA certificate (PEM, DER or PKCS#7)</label>
  <input id="trust-file" name="file" type="file" required>
  <p class="muted drop-hint">…or drop the file here. Its verdict is shown at once.</p>
  <button type="submit">Upload</button>
  <output id="verdicts" class="verdicts" aria-live="polite"></output>
</form>
<p class="muted">Stored in <code>${t.dir}</code>. A server's own certificate does not belong here: pin it on its resource.</p>
${
  t.entries.length
    ? html`<table class="table"><caption class="visually-hidden">Certificates in ca-certs</caption>
<thead><tr><th scope="col">Certificate</th><th scope="col">Verdict</th><th scope="col">File</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${t.entries.map(
        (
          e,
        ) => html`<tr><td>${e.subject || '—'}${e.sha256 ? html`<br><code class="fp">${e.sha256.slice(0, 23)}…</code>` : ''}</td><td><span class="verdict ${e.verdict}">${e.verdict}</span> ${e.reason}${e.fix ? html`<br><span class="muted">Fix: ${e.fix}</span>` : ''}</td><td><code>${e.file}</code></td>
<td><form method="post" action="/ui/trust/remove" class="inline"><input type="hidden" name="selector" value="${e.sha256 ? e.sha256.replace(/:/g, '') : (e.file ?? '')}"><button type="submit" class="danger" aria-label="Remove ${e.subject || e.file}">Remove</button></form></td></tr>`,
      )}</tbody></table>`
    : html`<p class="empty">No custom CAs yet: Node's bundled roots are trusted.</p>`
}`,
      }),
    );
  });
  app.post('/ui/trust', async (c) => {
    const form = await c.req.parseBody();
    const file = form.file;
    if (!(file instanceof File) || file.size === 0) return say(c, kit, 'error', 'Choose a certificate file first.', '/trust');
    try {
      const r = await uploadTrust(ctx.dirs.caCerts, Buffer.from(await file.arrayBuffer()), file.name.replace(/[^\w. -]/g, '_') || 'upload');
      const text = r.verdicts.map((v) => `${v.verdict}: ${v.reason}${v.fix && v.verdict === 'refused' ? ` Fix: ${v.fix}` : ''}`).join(' · ');
      return say(c, kit, r.added ? 'ok' : 'error', text, '/trust');
    } catch (err) {
      return say(c, kit, 'error', errText(err), '/trust');
    }
  });
  app.post('/ui/trust/remove', async (c) => {
    const form = await c.req.parseBody();
    try {
      const removed = await removeTrust(ctx.dirs.caCerts, String(form.selector ?? ''));
      return say(c, kit, 'ok', `removed from ${removed.join(', ')}.`, '/trust');
    } catch (err) {
      return say(c, kit, 'error', errText(err), '/trust');
    }
  });

  const resourcesPage = async (c: Context, result: Awaited<ReturnType<typeof testNamed>> | null, testError: string | null) => {
    const { resources, problems } = await loadResources(ctx.dirs.resources);
    const shown = result ?? null;
    return c.html(
      page({
        title: 'Resources',
        path: '/resources',
        flash: flashOf(c, kit),
        body: html`<p class="muted">Outbound connections and their TLS profile. Add them with <code>certgate resources add</code> or <code>PUT /api/resources/NAME</code>.</p>
<ul class="resources">${resources.map(
          (r) => html`<li class="card resource" data-name="${r.name}">
  <div><strong>${r.name}</strong> <span class="muted">${r.kind} ${r.host}:${r.port} · mode ${r.tls.mode}</span></div>
  <form method="post" action="/ui/resources/${r.name}/test" class="inline js-test" data-name="${r.name}"><button type="submit">Test connection</button></form>
  <div class="test-result" aria-live="polite">${shown && shown.resource === r.name ? testView(shown) : testError && c.req.param('name') === r.name ? html`<p class="flash error">${testError}</p>` : ''}</div>
</li>`,
        )}</ul>${resources.length ? '' : html`<p class="empty">No resources yet.</p>`}
${problems.map((p) => html`<p class="flash error">${p.code}: ${p.message}. Fix: ${p.fix}</p>`)}`,
      }),
    );
  };
  app.get('/resources', (c) => resourcesPage(c, null, null));
  app.post('/ui/resources/:name/test', async (c) => {
    try {
      return await resourcesPage(c, await testNamed({ ...ctx.dirs, env: ctx.env }, c.req.param('name'), 10_000), null);
    } catch (err) {
      return resourcesPage(c, null, errText(err));
    }
  });
  app.post('/ui/resources/:name/pin', async (c) => {
    const form = await c.req.parseBody();
    try {
      const p = await pinNamed({ ...ctx.dirs, env: ctx.env }, c.req.param('name'), String(form.sha256 ?? '') || undefined, 10_000);
      return say(c, kit, 'ok', `${c.req.param('name')} now trusts exactly "${p.subject}" (SHA-256 ${p.sha256}).`, '/resources');
    } catch (err) {
      return say(c, kit, 'error', errText(err), '/resources');
    }
  });

  app.get('/settings', async (c) => {
    const view = await settingsView(ctx);
    const doctor = c.req.query('doctor') === '1' && ctx.doctor ? await ctx.doctor().catch(() => null) : null;
    return c.html(
      page({
        title: 'Settings',
        path: '/settings',
        flash: flashOf(c, kit),
        body: html`<form method="post" action="/ui/settings/reload" class="inline"><button type="submit">Reload settings</button></form>
${ctx.doctor ? html` <a class="button" href="/settings?doctor=1#doctor">Run doctor</a>` : ''}
${
  doctor
    ? html`<section id="doctor" aria-labelledby="doc-h" class="card"><h2 id="doc-h">Doctor: ${doctor.ok ? 'all good' : 'problems found'}</h2><ul class="checks">${doctor.checks.map(
        (k) =>
          html`<li class="check ${k.status}"><span class="verdict ${k.status}">${k.status}</span> <strong>${k.title}</strong>: ${k.detail}${k.fix ? html`<br><span class="muted">Fix: ${k.fix}</span>` : ''}</li>`,
      )}</ul></section>`
    : ''
}
<table class="table"><caption class="visually-hidden">Effective settings and where each comes from</caption>
<thead><tr><th scope="col">Setting</th><th scope="col">Value</th><th scope="col">Source</th></tr></thead>
<tbody>${Object.entries(view.settings).map(([k, v]) => html`<tr><td><code>${k}</code></td><td><code>${JSON.stringify(v.value) ?? 'unset'}</code></td><td>${v.source}</td></tr>`)}</tbody></table>`,
      }),
    );
  });
  app.post('/ui/settings/reload', async (c) => {
    if (!ctx.reload) return say(c, kit, 'error', 'This server has no reload: send SIGHUP to certgate serve.', '/settings');
    try {
      const r = await ctx.reload();
      return say(c, kit, 'ok', r.restart.length ? `Reloaded; ${r.restart.join(', ')} take effect at the next restart.` : 'Reloaded.', '/settings');
    } catch (err) {
      return say(c, kit, 'error', errText(err), '/settings');
    }
  });
}

function testView(r: Awaited<ReturnType<typeof testNamed>>): Raw {
  const mark = { ok: '✓', warn: '!', fail: '✗', skipped: '–' } as const;
  return html`<p><strong>${r.status === 'ok' ? 'Connected' : r.status === 'warn' ? 'Connected, with warnings' : 'Failed'}</strong> <span class="muted">${r.target}, mode ${r.mode}</span></p>
<ol class="layers">${r.layers.map(
    (l) =>
      html`<li class="layer ${l.status}"><span class="verdict ${l.status}" aria-hidden="true">${mark[l.status]}</span> <strong>${l.layer}</strong><span class="visually-hidden"> ${l.status}</span>: ${l.message}${l.fix && l.status !== 'ok' && l.status !== 'skipped' ? html`<br><span class="fix">Fix: ${l.fix}</span>` : ''}</li>`,
  )}</ol>
${
  r.presented
    ? html`<form method="post" action="/ui/resources/${r.resource}/pin" class="pin js-pin" data-name="${r.resource}">
  <p>The server presents "${r.presented.subject}"${r.presented.selfSigned ? ' (self-signed)' : ''}, SHA-256 <code class="fp">${r.presented.sha256}</code>.</p>
  <input type="hidden" name="sha256" value="${r.presented.sha256}">
  <button type="submit">Pin this certificate</button>
</form>`
    : ''
}`;
}
