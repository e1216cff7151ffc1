import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/config/config-error.js';
import { readCallerAuth } from '../src/config/caller-auth.js';

// Regression: readCallerAuth listed the whole environment and parsed it with zod on every request
// (about 100-250 us of every /api/send); it now keeps the last settings by the values they were read
// from. These pin that a changed value is still read at the next request, as before.
describe('the caller settings, read at every request', () => {
  const audience = 'api://exosend-test';
  const key = 'k'.repeat(32);

  it('when EXOSEND_CALLER_AUTH changes between two requests, then the second reads the new value', () => {
    const env: Record<string, string | undefined> = { EXOSEND_API_AUDIENCE: audience };
    assert.equal(readCallerAuth(env).mode, 'key');
    env.EXOSEND_CALLER_AUTH = 'entra';
    assert.deepEqual(readCallerAuth(env), { mode: 'entra', audiences: [audience], callerKey: undefined });
    env.EXOSEND_CALLER_AUTH = 'both';
    env.EXOSEND_CALLER_KEY = key;
    assert.deepEqual(readCallerAuth(env), { mode: 'both', audiences: [audience], callerKey: key });
    env.EXOSEND_CALLER_AUTH = ' ';
    assert.equal(readCallerAuth(env).mode, 'key');
  });

  it('when a value turns bad after good reads, then every request is refused until it is fixed', () => {
    const env: Record<string, string | undefined> = { EXOSEND_CALLER_AUTH: 'entra', EXOSEND_API_AUDIENCE: audience };
    assert.equal(readCallerAuth(env).mode, 'entra');
    env.EXOSEND_API_AUDIENCE = undefined;
    assert.throws(() => readCallerAuth(env), ConfigError);
    assert.throws(() => readCallerAuth(env), ConfigError);
    env.EXOSEND_CALLER_AUTH = 'sometimes';
    assert.throws(
      () => readCallerAuth(env),
      (error: ConfigError) => error.message.includes('EXOSEND_CALLER_AUTH'),
    );
    env.EXOSEND_CALLER_AUTH = 'key';
    assert.equal(readCallerAuth(env).mode, 'key');
  });

  it('when another variable of the environment changes, then the settings read stay the same', () => {
    const env: Record<string, string | undefined> = { EXOSEND_CALLER_AUTH: 'entra', EXOSEND_API_AUDIENCE: audience };
    const first = readCallerAuth(env);
    env.EXOSEND_MAILBOX = 'other@contoso.example';
    assert.equal(readCallerAuth(env), first);
  });
});
