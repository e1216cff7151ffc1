#!/usr/bin/env node
// `exosend <command>`: each command lives in its own module and loads only when asked for.
const commands: Record<string, { summary: string; load: () => Promise<{ main(args: string[]): Promise<number> }> }> = {
  caller: {
    summary: 'add|list|remove: the policy of an app that calls with an Entra token (senders, recipients, quota, share)',
    load: () => import('./caller.js'),
  },
  doctor: {
    summary: 'check the setup step by step (KB486942) and name the step that is wrong',
    load: () => import('./doctor.js'),
  },
  enqueue: { summary: 'validate a mail request and put it on the intake queue', load: () => import('./enqueue.js') },
  suppression: {
    summary: 'list, add or remove the recipients exosend no longer sends to (they hard-bounced)',
    load: () => import('./suppression.js'),
  },
  secret: {
    summary: 'set: store the client secret in Key Vault with its expiry (prompted or piped, never an argument)',
    load: () => import('./secret.js'),
  },
};

const [name, ...args] = process.argv.slice(2);
const command = name === undefined ? undefined : commands[name];
if (!command) {
  const list = Object.entries(commands).map(([n, c]) => `  exosend ${n.padEnd(10)} ${c.summary}`);
  console.error(`usage: exosend <command> [options]\n\n${list.join('\n')}`);
  process.exitCode = name === undefined || name === '--help' || name === '-h' ? 0 : 2;
} else {
  process.exitCode = await (await command.load()).main(args);
}
