// The two pages a person sees at the codec server's /login: the sign-in form and the confirmation.
// Self-contained HTML (no script, inline style only) so the page's CSP can forbid everything else.

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Saga codec server</title><style>body{font:16px system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem}input{width:100%;padding:.4rem;margin:.5rem 0}</style></head><body>${body}</body></html>`;
}

/** The sign-in form, with `problem` (escaped) above it when the last attempt was refused. */
export function loginPage(problem: string): string {
  return page(
    `<h1>Decode payloads in the Web UI</h1><p>Enter the codec server token. This browser then keeps a session cookie that lets the Web UI decode payloads.</p>${
      problem ? `<p role="alert"><strong>${escapeHtml(problem)}</strong></p>` : ''
    }<form method="post"><label>Token <input type="password" name="token" autocomplete="off" required autofocus></label><button type="submit">Sign in</button></form>`,
  );
}

/** The page after a successful sign-in, linking the Web UI origins that may now decode. */
export function signedInPage(origins: readonly string[]): string {
  const links = origins.map((o) => `<a href="${escapeHtml(o)}">${escapeHtml(o)}</a>`).join(', ');
  return page(`<h1>Signed in</h1><p>The Web UI (${links}) can now decode payloads in this browser. Turn on “Include cross-origin credentials” in its codec server settings.</p>`);
}
