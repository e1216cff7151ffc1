import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { callerRoute } from './caller-route.js';
import { openApiDocument } from '../http/openapi-document.js';

let cached: { serverUrl: string; body: string } | undefined;

/** GET /api/openapi.json: the OpenAPI 3.1 description of the HTTP API, its server this app's own /api. */
async function openApiDocumentAt(request: HttpRequest): Promise<HttpResponseInit> {
  const serverUrl = `${new URL(request.url).origin}/api`;
  // built once per worker (and per host name it is reached by): zod's conversion is not free
  if (cached?.serverUrl !== serverUrl) cached = { serverUrl, body: JSON.stringify(openApiDocument(serverUrl), null, 2) };
  return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' }, body: cached.body };
}

export const getOpenApiDocument = callerRoute('openapi', { methods: ['GET'], route: 'openapi.json' }, openApiDocumentAt);
