import type { TokenProvider } from '../auth/token-provider.js';
import type { GraphOutcome } from '../diagnosis/classify.js';

export interface GraphClientOptions {
  /** EXOSEND_GRAPH_ENDPOINT, without a trailing slash. */
  endpoint: string;
  /** Tokens for Graph's scope (graphScopeFor), cached and checked like Exchange's. */
  tokens: TokenProvider;
  /** A request with no answer after this is given up: it may still have been carried out. */
  timeoutInMs?: number;
}

export interface GraphRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** After the endpoint, from the version on: `/v1.0/users/a%40b/sendMail`. */
  path: string;
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface GraphResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON when Graph sent JSON, else undefined. */
  json: unknown;
  /** The body as sent (a message's MIME from `$value`). */
  body: Buffer;
}

/**
 * Graph answered with an error, or did not answer. Carries Graph's error shape
 * (`{ "error": { "code", "message" } }`, microsoftgraph/microsoft-graph-docs-contrib concepts/errors.md)
 * and its Retry-After; never the token or the body.
 */
export class GraphError extends Error {
  override readonly name = 'GraphError';
  constructor(
    readonly status: number | undefined,
    readonly code: string | undefined,
    readonly graphMessage: string | undefined,
    readonly retryAfterSeconds: number | undefined,
    readonly noAnswer?: 'unreachable' | 'timeout',
    readonly detail?: string,
  ) {
    super(
      status === undefined
        ? `Microsoft Graph gave no answer (${noAnswer ?? 'unreachable'}${detail ? `: ${detail}` : ''})`
        : `Microsoft Graph answered ${status} ${code ?? ''}: ${graphMessage ?? ''}`,
    );
  }

  /** As the classifier reads it. */
  outcome(): GraphOutcome {
    return {
      ...(this.status !== undefined && { status: this.status }),
      ...(this.code !== undefined && { code: this.code }),
      ...(this.graphMessage !== undefined && { message: this.graphMessage }),
      ...(this.retryAfterSeconds !== undefined && { retryAfterSeconds: this.retryAfterSeconds }),
      ...(this.noAnswer && { noAnswer: this.noAnswer }),
      ...(this.detail && { detail: this.detail }),
    };
  }
}

const defaultTimeoutInMs = 60_000;

/**
 * The one Microsoft Graph client of exosend (sendMail here; the mailbox reader of delivery
 * tracking can use it as well): a bearer token from the Graph token cache, Graph's error shape
 * parsed, Retry-After read. It never retries by itself: whether a retry could send twice is the
 * caller's call. A 401 gets one new token, as Graph's 401 means the token itself was refused.
 */
export class GraphClient {
  private readonly timeoutInMs: number;

  constructor(private readonly options: GraphClientOptions) {
    this.timeoutInMs = options.timeoutInMs ?? defaultTimeoutInMs;
  }

  /** The answer when it is 2xx; a GraphError otherwise. */
  async request(request: GraphRequest): Promise<GraphResponse> {
    const { token } = await this.options.tokens.getToken();
    let response = await this.once(request, token);
    if (response.status === 401) {
      this.options.tokens.invalidate(token);
      response = await this.once(request, (await this.options.tokens.getToken()).token);
    }
    if (response.status >= 200 && response.status < 300) return response;
    throw errorOf(response);
  }

  /**
   * A request to a pre-authenticated absolute URL (an upload session's `uploadUrl`) without the
   * bearer token: attachment-createuploadsession.md in microsoftgraph/microsoft-graph-docs-contrib
   * says not to send an Authorization header there. The URL carries its own credential: it is
   * never put in an error or a log.
   */
  async requestUrl(url: string, request: Omit<GraphRequest, 'path'>): Promise<GraphResponse> {
    const response = await this.once({ ...request, path: '' }, undefined, url);
    if (response.status >= 200 && response.status < 300) return response;
    throw errorOf(response);
  }

  /** The roles of the Graph token in use (from the cache), to tell ahead whether a call is allowed. */
  async roles(): Promise<readonly string[]> {
    return (await this.options.tokens.getToken()).claims.roles;
  }

  private async once(
    request: GraphRequest,
    token: string | undefined,
    url = `${this.options.endpoint}${request.path}`,
  ): Promise<GraphResponse> {
    let response: Response;
    try {
      response = await fetch(url, {
        method: request.method,
        headers: {
          ...(token !== undefined && { authorization: `Bearer ${token}` }),
          ...(request.contentType && { 'content-type': request.contentType }),
          ...request.headers,
        },
        ...(request.body !== undefined && { body: request.body }),
        signal: AbortSignal.timeout(this.timeoutInMs),
      });
    } catch (error) {
      throw noAnswer(error);
    }
    const body = Buffer.from(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
    const text = body.toString('utf8');
    let json: unknown;
    if (/json/i.test(response.headers.get('content-type') ?? '') && text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { status: response.status, headers: response.headers, json, body };
  }
}

function errorOf(response: GraphResponse): GraphError {
  const error = (response.json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return new GraphError(
    response.status,
    text(error?.code),
    text(error?.message),
    retryAfterSeconds(response.headers.get('retry-after')),
  );
}

/** Retry-After as seconds (RFC 9110: delay-seconds or an HTTP date); never below one second. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value.trim()) : (Date.parse(value) - now) / 1000;
  return Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : undefined;
}

/**
 * No answer: a connection that never opened is safe to try again; a timeout or a connection lost
 * after the request went out may have been carried out.
 */
function noAnswer(error: unknown): GraphError {
  const e = error as { name?: string; cause?: { code?: unknown; message?: unknown } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return new GraphError(undefined, undefined, undefined, undefined, 'timeout', 'no answer within the timeout');
  const code = typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const neverConnected =
    code !== undefined &&
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
  return new GraphError(
    undefined,
    undefined,
    undefined,
    undefined,
    neverConnected ? 'unreachable' : 'timeout',
    code ?? 'connection lost',
  );
}
