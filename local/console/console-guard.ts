import type { IncomingMessage } from 'node:http';

/**
 * Why a request to the console must be refused, or undefined when it comes from the console's own
 * page. The console listens on loopback, but any web page the developer has open can make the
 * browser send requests there:
 * - DNS rebinding (a name of the attacker's that now resolves to 127.0.0.1) reaches it with a Host
 *   of that name: only 127.0.0.1, localhost and [::1] on this port are served;
 * - cross-site requests (CSRF, or a script reading the outbox) carry another Origin or a
 *   Sec-Fetch-Site other than same-origin: refused; a POST must say its Origin, as browsers do;
 * - the console's JSON calls carry `x-exosend-console`, which no other site can add without a CORS
 *   preflight that is never answered.
 */
export function consoleRefusal(req: IncomingMessage, port: number, kind: 'page' | 'json' | 'post'): string | undefined {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  const host = (req.headers.host ?? '').toLowerCase();
  if (!hosts.includes(host)) return 'the console answers only on its loopback address';
  const origin = req.headers.origin;
  if (origin !== undefined && !hosts.some((h) => origin.toLowerCase() === `http://${h}`))
    return 'requests from other sites are refused';
  const site = req.headers['sec-fetch-site'];
  // `none`: the developer typed the address or opened a bookmark
  if (site !== undefined && site !== 'same-origin' && !(site === 'none' && kind === 'page'))
    return 'requests from other sites are refused';
  if (kind === 'post' && origin === undefined) return 'a change needs the Origin header a browser sends';
  if (kind !== 'page' && req.headers['x-exosend-console'] !== '1') return "the console's own calls only";
  return undefined;
}
