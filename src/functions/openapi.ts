import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { callerRoute } from './caller-route.js';
import { readCallerAuth } from '../config/caller-auth.js';
import { openApiDocument } from '../http/openapi-document.js';

let cached: { key: string; body: string } | undefined;

/**
 * GET /api/openapi.json: the OpenAPI 3.1 description of the HTTP API, its server this app's own /api.
 *
 * The server is absolute, with the scheme, host and port the document was fetched at. A relative
 * `/api` would be resolved against the document's address only by a client that fetched it; the
 * README's recipe downloads it to a file first, and openapi-generator then turns `/api` into
 * `http://localhost/api`, port 80 (OpenAPITools/openapi-generator,
 * modules/openapi-generator/src/main/java/org/openapitools/codegen/utils/URLPathUtils.java, sanitizeUrl).
 *
 * `request.url` already is that address, so no forwarded header is read here: the Functions host
 * builds it from the scheme and the Host header (azure-functions-host,
 * src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs, ToRpcHttp), and in
 * Azure on Linux (Flex Consumption included) it first puts App Service's DISGUISED-HOST into Host and
 * the front end's X-Forwarded-Proto into the scheme, since TLS ends at the front end
 * (src/WebJobs.Script.WebHost/Middleware/AppServiceHeaderFixupMiddleware.cs, registered for
 * IsLinuxAzureManagedHosting in WebJobsApplicationBuilderExtension.cs). X-Forwarded-Host is trusted
 * by neither, and any caller can set it: a document fetched through another proxy names the app,
 * which is what `az apim api import` wants as the backend.
 */
function openApiDocumentAt(request: HttpRequest): Promise<HttpResponseInit> {
  const serverUrl = `${new URL(request.url).origin}/api`;
  // what the caller check in front of this handler admits, read the same way: the document describes it
  const { mode } = readCallerAuth();
  const key = `${mode} ${serverUrl}`;
  // built once per worker (and per host name it is reached by): zod's conversion is not free
  if (cached?.key !== key) cached = { key, body: JSON.stringify(openApiDocument(serverUrl, mode), null, 2) };
  return Promise.resolve({
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' },
    body: cached.body,
  });
}

export const getOpenApiDocument = callerRoute(
  'openapi',
  { methods: ['GET'], route: 'openapi.json' },
  openApiDocumentAt,
);
