import { sendRole, type CallerAuthMode } from '../config/caller-auth.js';

type Json = Record<string, unknown>;

/**
 * How the OpenAPI document says who may call: its security schemes, the requirement every route
 * carries (any one of them is enough), and the words for the API's description.
 *
 * The document follows EXOSEND_CALLER_AUTH: it describes what the deployment that serves it
 * admits, not every way exosend could be set up. A client generated from it (openapi-generator,
 * Kiota) or an API Management import asks for the credentials the deployment takes, and no other:
 * a bearer scheme under `key` would only ever earn 401s, and a function-key scheme under `entra`
 * the same. The key schemes also mean different things under `key` (any function key, checked by
 * the Functions host) and `both` (EXOSEND_CALLER_KEY, checked by exosend), and the 401s differ
 * with them (the host's empty one, or exosend's with a Bearer challenge and a code). The document
 * is fetched from the deployment it describes, through the same caller check, so it can know.
 */
export function openApiSecurity(callerAuth: CallerAuthMode): {
  schemes: Record<string, Json>;
  requirements: Record<string, string[]>[];
  description: string;
} {
  const keys = callerAuth !== 'entra';
  const tokens = callerAuth !== 'key';
  const keyChecked =
    callerAuth === 'key'
      ? 'A function key (or the host key) of the Function App, checked by the Functions host'
      : 'The key in EXOSEND_CALLER_KEY, checked by exosend (function keys during a migration to Entra callers: the routes are anonymous at the host, docs/callers.md)';
  const schemes: Record<string, Json> = {
    ...(tokens && {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: [
          "An app-only Entra access token for exosend's API, from the calling app's managed identity or app",
          "registration (scope `<Application ID URI>/.default`): its audience one of EXOSEND_API_AUDIENCE (the API's",
          "Application ID URI or client ID), issued by exosend's tenant, unexpired, signed RS256 with the tenant's keys,",
          `holding the app role \`${sendRole}\`. The calling app also needs a caller policy (\`npx exosend caller add\`).`,
        ].join(' '),
      },
    }),
    ...(keys && {
      functionKeyHeader: { type: 'apiKey', in: 'header', name: 'x-functions-key', description: `${keyChecked}.` },
      functionKeyQuery: {
        type: 'apiKey',
        in: 'query',
        name: 'code',
        description: 'The same key as a query parameter (the header wins when both are sent).',
      },
    }),
  };
  return {
    schemes,
    requirements: Object.keys(schemes).map((name) => ({ [name]: [] })),
    description: {
      key: 'Every route needs a function key: the `x-functions-key` header or the `code` query parameter (EXOSEND_CALLER_AUTH=key).',
      entra: `Every route needs \`Authorization: Bearer <token>\`, a token for exosend's API with the app role \`${sendRole}\`, from an app with a caller policy (EXOSEND_CALLER_AUTH=entra).`,
      both: `Every route needs either \`Authorization: Bearer <token>\` (a token for exosend's API with the app role \`${sendRole}\`, from an app with a caller policy) or the key EXOSEND_CALLER_KEY in \`x-functions-key\` or \`code\` (EXOSEND_CALLER_AUTH=both, during a migration).`,
    }[callerAuth],
  };
}

/**
 * Under `key` the Functions host checks the key before exosend runs, and answers a missing or
 * wrong one with an empty 401 (UnauthorizedResult: Azure/azure-functions-host,
 * src/WebJobs.Script.WebHost/Middleware/FunctionInvocationMiddleware.cs, GetResultAsync). Under
 * `entra` and `both` the routes are anonymous at the host: exosend's own 401s (failureAnswers) are the only ones.
 */
export function hostRefusals(callerAuth: CallerAuthMode): Record<string, Json> {
  if (callerAuth !== 'key') return {};
  return {
    '401': {
      description:
        'No function key, or a wrong one: the Functions host refuses the request before exosend runs, with an empty body.',
    },
  };
}
