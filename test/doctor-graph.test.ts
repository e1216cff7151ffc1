import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sandboxScenarios, startSandbox, type Sandbox } from '../local/sandbox/index.js';
import { observedDir, runObserved } from './observed.js';

// `exosend doctor` as an admin runs it (a child process of the built CLI), against stand-ins whose
// tenant has SMTP AUTH off or sends through Microsoft Graph.

const cli = join(import.meta.dirname, '..', 'cli', 'exosend.js');
const jwtShaped = /eyJ[\w-]+\.[\w-]+\./;
let sandbox: Sandbox;
const outputs: string[] = [];

async function doctor(args: string[], settings: Record<string, string> = {}) {
  const run = await runObserved('exosend-cli', process.execPath, [cli, 'doctor', ...args], {
    env: { ...process.env, ...sandbox.settings, ...settings },
  });
  outputs.push(run.stdout, run.stderr);
  const text = `${run.stdout}\n${run.stderr}`;
  for (const secret of sandbox.knownSecrets()) assert.ok(!text.includes(secret), 'a secret or token was printed');
  assert.doesNotMatch(text, jwtShaped);
  return run;
}

const stagesOf = (report: { stages: { stage: string; ok: boolean; skipped?: string; advice?: string }[] }) =>
  report.stages.map((s) => `${s.stage}:${s.advice ? 'advice' : s.skipped ? 'skipped' : s.ok ? 'ok' : 'FAIL'}`);
const smtpAuthOff = () => sandbox.exchange.configureTenant(sandbox.app.tenantId, { smtpAuthDisabled: true });

before(async () => {
  sandbox = await startSandbox();
});
after(async () => {
  mkdirSync(observedDir, { recursive: true });
  const name = `${basename(import.meta.filename).replace(/\W+/g, '-')}-${process.pid}`;
  appendFileSync(join(observedDir, `${name}.observed.txt`), outputs.join('\n') + '\n');
  appendFileSync(join(observedDir, `${name}.secrets.txt`), sandbox.knownSecrets().join('\n') + '\n');
  await sandbox?.close();
});

describe('exosend doctor and the active transport', () => {
  beforeEach(() => {
    sandboxScenarios.healthy(sandbox);
    sandbox.exchange.messages.length = 0;
  });

  it('when SMTP AUTH is off and the transport is smtp, then a step of its own says EXOSEND_TRANSPORT=graph is the way and that the app already holds Mail.Send', async () => {
    smtpAuthOff();
    const run = await doctor([]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(
      run.stdout,
      /^✘ AUTH XOAUTH2.*\n→ Microsoft Graph {2}Where SMTP AUTH must stay off, send through Microsoft Graph: app \S+ is ready, its Graph token holds Mail\.Send; set EXOSEND_TRANSPORT=graph/m,
    );
    assert.match(run.stdout, /^SMTP_AUTH_DISABLED/m);
  });

  it("when SMTP AUTH is off and the app lacks Graph's Mail.Send, then the step names the permission and the RBAC for Applications command to grant", async () => {
    smtpAuthOff();
    sandbox.identity.updateApp(sandbox.app.clientId, { graphRoles: [] });
    const run = await doctor(['--json']);
    assert.equal(run.code, 1);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(stagesOf(report).slice(-1), ['auth:FAIL'], 'the failed stage stays the last one');
    assert.equal(report.wayOut.stage, 'graph');
    const advice: string = report.wayOut.advice;
    assert.match(advice, /set EXOSEND_TRANSPORT=graph/);
    assert.match(advice, /Application permissions > Mail\.Send/);
    assert.match(
      advice,
      new RegExp(`New-ManagementRoleAssignment -App ${sandbox.app.clientId} -Role "Application Mail.Send"`),
    );
    assert.match(advice, /GRAPH_PERMISSION_MISSING/);
  });

  it("when EXOSEND_TRANSPORT=graph in a tenant with SMTP AUTH off, then the doctor checks Graph's token and sends its test through Graph, all green", async () => {
    smtpAuthOff();
    const to = 'doctor-graph@fabrikam.example';
    const run = await doctor(['--json', '--to', to], { EXOSEND_TRANSPORT: 'graph' });
    assert.equal(run.code, 0, run.stdout);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(stagesOf(report), ['settings:ok', 'vault:ok', 'token:ok', 'claims:ok', 'send:ok', 'from:ok']);
    assert.equal(report.claims.aud, 'https://graph.microsoft.com');
    // the sandbox's app holds Mail.ReadWrite for Graph's draft path and Mail.Read for the delivery reports reader
    assert.deepEqual(report.claims.roles, ['Mail.Send', 'Mail.ReadWrite', 'Mail.Read']);
    assert.match(
      report.stages.find((st: { stage: string }) => st.stage === 'claims').note,
      /messages above Graph's 4 MB can go \(Mail\.ReadWrite/,
    );
    const message = sandbox.exchange.messages.find((m) => m.envelope.rcptTo.includes(to));
    assert.equal(message?.transport, 'graph');
  });

  it('when EXOSEND_TRANSPORT=graph and Mail.Send is missing, then the doctor stops at claims with GRAPH_PERMISSION_MISSING and its fix', async () => {
    sandbox.identity.updateApp(sandbox.app.clientId, { graphRoles: [] });
    const run = await doctor([], { EXOSEND_TRANSPORT: 'graph' });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^✘ claims/m);
    assert.match(run.stdout, /^GRAPH_PERMISSION_MISSING/m);
    assert.match(run.stdout, /Application Mail\.Send/);
  });

  it('when EXOSEND_TRANSPORT=graph and the token holds Mail.Send but not Mail.ReadWrite, then the claims step says messages above 4 MB cannot go and what to grant', async () => {
    sandbox.identity.updateApp(sandbox.app.clientId, { graphRoles: ['Mail.Send'] });
    const run = await doctor([], { EXOSEND_TRANSPORT: 'graph' });
    assert.equal(run.code, 0, run.stdout);
    assert.match(
      run.stdout,
      /^✔ claims.*messages above Graph's 4 MB cannot go \(refused 413\): they need the application permission Mail\.ReadWrite/m,
    );
    assert.match(
      run.stdout,
      new RegExp(`New-ManagementRoleAssignment -App ${sandbox.app.clientId} -Role "Application Mail.ReadWrite"`),
    );
  });

  it('when EXOSEND_TRANSPORT=auto and SMTP AUTH is off, then the doctor goes on through Graph as a send would and passes', async () => {
    smtpAuthOff();
    const run = await doctor(['--json', '--to', 'doctor-auto@fabrikam.example'], { EXOSEND_TRANSPORT: 'auto' });
    assert.equal(run.code, 0, run.stdout);
    const report = JSON.parse(run.stdout);
    assert.ok(stagesOf(report).includes('graph:advice'), JSON.stringify(stagesOf(report)));
    assert.deepEqual(stagesOf(report).slice(-3), ['claims:ok', 'send:ok', 'from:ok']);
    assert.equal(report.claims.aud, 'https://graph.microsoft.com');
  });
});
