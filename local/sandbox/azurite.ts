import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TlsMaterial } from './pki.js';
import { spawnWithParent } from '../../cli/spawn-with-parent.js';

/** Azurite's well-known development account: public, documented, and useless outside an emulator. */
const account = 'devstoreaccount1';
const accountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Keep the state in this folder; without it everything lives in memory and dies with the process. */
  location?: string;
  /**
   * Serve HTTPS with this certificate and accept bearer tokens (`--oauth basic`: lifetime, issuer and
   * audience are checked, as storage does; the signature is not). Shared-key requests still work.
   */
  tls?: TlsMaterial;
}

export interface Azurite {
  /** For AzureWebJobsStorage: explicit endpoints, since the ports are not Azurite's defaults. */
  connectionString: string;
  /** The account's endpoints (`http(s)://127.0.0.1:PORT/devstoreaccount1`), for identity-based settings. */
  serviceUris: Record<'blob' | 'queue' | 'table', string>;
  close(): Promise<void>;
}

/** Starts Azurite (blob, queue, table) on loopback ports of the system's choosing, with its telemetry off. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const main = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist/src/azurite.js');
  const args = [main, '--silent', '--disableTelemetry', '--skipApiVersionCheck'];
  for (const service of ['blob', 'queue', 'table']) args.push(`--${service}Host`, '127.0.0.1', `--${service}Port`, '0');
  args.push(
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence', '--extentMemoryLimit', '1024']),
  );
  // Azurite reads the certificate and key from files; they only need to outlive its start
  const tlsDir = options.tls ? mkdtempSync(join(tmpdir(), 'exosend-azurite-')) : undefined;
  if (options.tls && tlsDir) {
    writeFileSync(join(tlsDir, 'cert.pem'), options.tls.certPem);
    writeFileSync(join(tlsDir, 'key.pem'), options.tls.keyPem, { mode: 0o600 });
    args.push('--cert', join(tlsDir, 'cert.pem'), '--key', join(tlsDir, 'key.pem'), '--oauth', 'basic');
  }

  // a process group of its own: a terminal's Ctrl-C must not stop the emulator under deliveries that
  // are still finishing; whoever started it stops it (close(), or this process's end, however it ends)
  const child = spawnWithParent(main, args.slice(1), { detached: true });
  const stopWithParent = () => child.kill();
  process.once('exit', stopWithParent);
  try {
    const endpoints = await listeningEndpoints(child);
    child.stdout!.resume(); // keep draining, or a full pipe would stall Azurite
    const connectionString =
      `DefaultEndpointsProtocol=${options.tls ? 'https' : 'http'};AccountName=${account};AccountKey=${accountKey};` +
      Object.entries(endpoints)
        .map(([service, url]) => `${service}Endpoint=${url}/${account};`)
        .join('');
    return {
      connectionString,
      serviceUris: {
        blob: `${endpoints.Blob}/${account}`,
        queue: `${endpoints.Queue}/${account}`,
        table: `${endpoints.Table}/${account}`,
      },
      close: async () => {
        process.off('exit', stopWithParent);
        if (child.exitCode !== null) return;
        child.kill();
        await once(child, 'exit');
      },
    };
  } catch (error) {
    child.kill();
    throw error;
  } finally {
    if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
  }
}

async function listeningEndpoints(child: ChildProcess): Promise<Record<'Blob' | 'Queue' | 'Table', string>> {
  const found: Partial<Record<'Blob' | 'Queue' | 'Table', string>> = {};
  const errors: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(() => {
    throw new Error(`Azurite exited before it listened: ${errors.join('').trim()}`);
  });
  const listening = (async () => {
    for await (const line of lines) {
      const match = /Azurite (Blob|Queue|Table) service is successfully listening at (https?:\/\/\S+)/.exec(line);
      if (match) found[match[1] as 'Blob' | 'Queue' | 'Table'] = match[2]!;
      if (found.Blob && found.Queue && found.Table) return found as Record<'Blob' | 'Queue' | 'Table', string>;
    }
    throw new Error('Azurite closed its output before it listened');
  })();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('Azurite did not start within 20 s')), 20_000).unref(),
  );
  return Promise.race([listening, exited, timeout]);
}
