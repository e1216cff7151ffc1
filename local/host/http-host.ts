import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import functions, { type HttpResponseInit } from '@azure/functions';
import { invocationContext, type LogSink } from './invocation.js';
import type { HttpRegistration } from './registrations.js';

const { HttpRequest } = functions;

export interface HttpHostOptions {
  functions: HttpRegistration[];
  /** The key that `authLevel: 'function'` routes ask for (`x-functions-key` header or `code` query). */
  functionKey: string;
  log: LogSink;
  /** Serves what is not under /api (the local console); without it such paths are 404. */
  fallback?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;
}

interface Route {
  registration: HttpRegistration;
  pattern: RegExp;
  params: string[];
}

/** Serves the app's HTTP functions under /api, as the Functions host does, with its function-key check. */
export function createHttpHost(options: HttpHostOptions): Server {
  const routes = options.functions.map(toRoute);
  return createServer((req, res) => {
    handle(req, res, routes, options).catch((error: unknown) => {
      options.log('error', 'host', `request failed: ${(error as Error).message}`);
      if (!res.headersSent)
        reply(res, { status: 500, jsonBody: { error: { code: 'INTERNAL', message: 'The function failed.' } } });
    });
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  routes: Route[],
  options: HttpHostOptions,
): Promise<void> {
  const url = requestUrl(req);
  if (!url) return reply(res, { status: 400 });
  const method = (req.method ?? 'GET').toUpperCase();
  if (options.fallback && !/^\/api(\/|$)/i.test(url.pathname)) return options.fallback(req, res, url);
  const matches = routes.flatMap((route) => {
    const match = route.pattern.exec(url.pathname);
    return match ? [{ route, match }] : [];
  });
  if (matches.length === 0) return reply(res, { status: 404 });
  const found = matches.find(({ route }) => (route.registration.methods ?? ['GET', 'POST']).includes(method as never));
  if (!found) return reply(res, { status: 405 });
  const { route, match } = found;
  if ((route.registration.authLevel ?? 'anonymous') !== 'anonymous' && !hasKey(req, url, options.functionKey)) {
    return reply(res, { status: 401 });
  }
  const params = decodeParams(route.params, match);
  if (!params) return reply(res, { status: 400 });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // the Functions host refuses a request body over 100 MB before any function sees it; so does this one
    if (size > maxRequestBodyBytes) return reply(res, { status: 413 }, true);
    chunks.push(chunk as Buffer);
  }
  const request = new HttpRequest({
    method,
    url: url.href,
    headers: Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
    ),
    query: Object.fromEntries(url.searchParams),
    params,
    body: { bytes: Buffer.concat(chunks) },
  });
  const response = await route.registration.handler(
    request,
    invocationContext(route.registration.name, {}, options.log),
  );
  reply(res, response);
}

/**
 * The URL a function sees as `request.url`, built as the Functions host builds it: scheme, the Host
 * header (port included), path and query (azure-functions-host,
 * src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs, ToRpcHttp). A fixed
 * base here once cost the port: /api/openapi.json then named port 80 as the server. Without a Host
 * (HTTP/1.0) the address the request came in on stands for it; a Host that is not one is a 400, as
 * Kestrel answers.
 */
function requestUrl(req: IncomingMessage): URL | undefined {
  const { localAddress, localPort } = req.socket;
  const host =
    req.headers.host ||
    (localAddress?.includes(':') ? `[${localAddress}]:${localPort}` : `${localAddress}:${localPort}`);
  // origin-form only ("/path?query"): a path that starts with "//" stays a path, as in Kestrel
  if (/[/?#@\\\s]/.test(host) || !req.url?.startsWith('/')) return undefined;
  try {
    return new URL(`http://${host}${req.url}`);
  } catch {
    return undefined;
  }
}

function toRoute(registration: HttpRegistration): Route {
  const template = (registration.route ?? registration.name).replace(/^\/+|\/+$/g, '');
  const params: string[] = [];
  const source = template
    .split('/')
    .map((segment) => {
      const param = /^\{([A-Za-z0-9_]+)(?::[a-z]+)?(\?)?\}$/.exec(segment);
      if (!param) return `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
      params.push(param[1]!);
      return param[2] ? '(?:/([^/]+))?' : '/([^/]+)';
    })
    .join('');
  return { registration, params, pattern: new RegExp(`^/api${source}/?$`, 'i') };
}

/** Route parameters, percent-decoded; undefined when one is not valid percent-encoding (the host answers 400). */
function decodeParams(names: string[], match: RegExpExecArray): Record<string, string> | undefined {
  try {
    return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]));
  } catch {
    return undefined;
  }
}

function hasKey(req: IncomingMessage, url: URL, key: string): boolean {
  const given = Buffer.from(String(req.headers['x-functions-key'] ?? url.searchParams.get('code') ?? ''));
  const expected = Buffer.from(key);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const maxRequestBodyBytes = 100 * 1024 * 1024;

function reply(res: ServerResponse, response: HttpResponseInit, close = false): void {
  if (close) res.setHeader('connection', 'close');
  const headers = new Headers(response.headers);
  let body: string | Uint8Array | undefined;
  if (response.jsonBody !== undefined) {
    body = JSON.stringify(response.jsonBody);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json; charset=utf-8');
  } else if (typeof response.body === 'string' || response.body instanceof Uint8Array) {
    body = response.body;
  }
  res.writeHead(response.status ?? 200, Object.fromEntries(headers));
  res.end(body);
}
