/**
 * @module admin/html
 * Server-rendered HTML for the dashboard: escaping, the page frame, and small pieces. Every page
 * works without JavaScript; /assets/app.js adds the live parts. No inline script or style: the
 * Content-Security-Policy allows this origin's files only.
 */

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML content and quoted attributes. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (ch) => ESC[ch] as string);
}

/** A template whose `${}` values are escaped unless they are Raw (already HTML). */
export class Raw {
  readonly html: string;
  constructor(text: string) {
    this.html = text;
  }
  toString(): string {
    return this.html;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    const piece = Array.isArray(v)
      ? v.map((x) => (x instanceof Raw ? x.html : esc(x))).join('')
      : v instanceof Raw
        ? v.html
        : v === null || v === undefined || v === false
          ? ''
          : esc(v);
    out += piece + (strings[i + 1] ?? '');
  });
  return new Raw(out);
}

const NAV = [
  ['/', 'Certificates'],
  ['/domains', 'Domains'],
  ['/events', 'Events'],
  ['/trust', 'Trust store'],
  ['/resources', 'Resources'],
  ['/settings', 'Settings'],
] as const;

export function page(opts: { title: string; path: string; body: Raw; flash?: { kind: 'ok' | 'error'; text: string } | null; signedIn?: boolean }): string {
  const nav =
    opts.signedIn === false
      ? html``
      : html`<nav aria-label="Sections"><ul>${NAV.map(
          ([href, label]) => html`<li><a href="${href}"${new Raw(opts.path === href ? ' aria-current="page"' : '')}>${label}</a></li>`,
        )}</ul><form method="post" action="/logout" class="logout"><button type="submit" class="link">Sign out</button></form></nav>`;
  const flash = opts.flash
    ? html`<div class="flash ${opts.flash.kind}" role="${opts.flash.kind === 'error' ? 'alert' : 'status'}">${opts.flash.text}</div>`
    : html``;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(opts.title)} · certgate</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/">certgate</a>${nav.html}</header>
<main id="main" tabindex="-1">
<h1>${esc(opts.title)}</h1>
${flash.html}
${opts.body.html}
</main>
</body>
</html>
`;
}

/** "in 3 days", "5 h ago": durations said the way an operator reads them. */
export function relative(iso: string | null, now = Date.now()): string {
  if (!iso) return '';
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  const [n, unit] =
    abs >= 2 * 86_400_000
      ? [Math.round(abs / 86_400_000), 'days']
      : abs >= 2 * 3600_000
        ? [Math.round(abs / 3600_000), 'h']
        : [Math.max(1, Math.round(abs / 60_000)), 'min'];
  return ms >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}
