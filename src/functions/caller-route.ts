import {
  app,
  type HttpMethod,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { authenticateCaller } from '../auth/authenticate-caller.js';
import { resolveCaller, type Caller } from '../auth/resolve-caller.js';
import { CallerRefused } from '../auth/caller-refused.js';
import { bindCaller, type CallerTag } from '../auth/caller-scope.js';
import { dayPeersOf, type DayPeers } from '../auth/day-peers.js';
import { CallerTokenVerifier } from '../auth/caller-token.js';
import { hostAuthLevel, readCallerAuth } from '../config/caller-auth.js';
import { getRuntime } from '../runtime/runtime.js';
import { callerRefusalResponse } from '../http/caller-refusal-response.js';
import { errorResponse } from '../http/error-response.js';
import { asCallerSees } from '../http/caller-view.js';

/**
 * A route's handler, told who called: it is only ever reached through withCaller. `tag` is the caller
 * as the send story hands it to the mailbox's budget and telemetry (its quota, share and day peers).
 */
export type CallerHandler = (
  request: HttpRequest,
  context: InvocationContext,
  caller: Caller,
  tag: CallerTag,
) => Promise<HttpResponseInit>;

/** What the registration gets: a handler that checks its caller first. */
export type CheckedHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** Marks a handler that checks its caller: the routes test fails for any HTTP function without it. */
export const checksCaller = Symbol.for('exosend.checksCaller');

/**
 * Registers an HTTP route the only way exosend's routes are registered: its authLevel follows
 * EXOSEND_CALLER_AUTH (`function` for `key`, so the host checks keys; `anonymous` for `entra` and
 * `both`, so bearer callers reach the app) and its handler checks the caller before anything else.
 * A bad setting throws here: the host then indexes no route at all rather than an open one.
 */
export function callerRoute(
  name: string,
  options: { methods: HttpMethod[]; route: string },
  handler: CallerHandler,
): CheckedHandler {
  const authLevel = hostAuthLevel(readCallerAuth().mode);
  const checked = withCaller(handler, authLevel);
  app.http(name, { ...options, authLevel, handler: checked });
  return checked;
}

/** The caller check around a handler registered with `authLevel` (exported for tests that drive a handler directly). */
export function withCaller(handler: CallerHandler, authLevel: 'function' | 'anonymous'): CheckedHandler {
  const checked: CheckedHandler = async (request, context) => {
    let caller: Caller;
    let takesTokens = true;
    let dayPeers: DayPeers | undefined;
    try {
      const settings = readCallerAuth();
      takesTokens = settings.mode !== 'key';
      const identity = await authenticateCaller(
        {
          authorization: request.headers.get('authorization'),
          // AuthenticationLevelHandler (Azure/azure-functions-host): a present header wins, even empty
          functionKey: request.headers.get('x-functions-key') ?? request.query.get('code'),
          hostCheckedKey: authLevel === 'function',
        },
        settings,
        () => verifierFor(settings.audiences),
      );
      // the worker's configuration, read once (runtime.ts): not the environment parsed again per request
      caller = await resolveCaller(identity, () => getRuntime().config);
      // its sends leave the other callers their unused shares of the mailbox's day (day-peers.ts)
      dayPeers = dayPeersOf(caller.id, settings.mode, () => getRuntime().config);
    } catch (error) {
      if (error instanceof CallerRefused) return callerRefusalResponse(error, context, takesTokens);
      return errorResponse(error, context);
    }
    const tag: CallerTag = {
      id: caller.id,
      name: caller.name,
      ...(caller.policy.dailyQuota !== undefined && { dailyQuota: caller.policy.dailyQuota }),
      share: caller.policy.share,
      ...(dayPeers && { dayPeers }),
    };
    // every log line of the request names its caller
    bindCaller(context, tag);
    return asCallerSees(await handler(request, context, caller, tag), caller.policy.operator, context);
  };
  Object.defineProperty(checked, checksCaller, { value: true });
  return checked;
}

let verifier: { key: string; instance: CallerTokenVerifier } | undefined;

/** One verifier (and its cached signing keys) per worker, for the tenant and audiences in force. */
function verifierFor(audiences: readonly string[]): CallerTokenVerifier {
  const { authorityHost, tenantId } = getRuntime().config;
  const key = JSON.stringify([authorityHost, tenantId, audiences]);
  if (verifier?.key !== key)
    verifier = { key, instance: new CallerTokenVerifier({ authorityHost, tenant: tenantId, audiences }) };
  return verifier.instance;
}
