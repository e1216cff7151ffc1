import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import {
  createCertificateAuthority,
  issueServerCertificate,
  loadOrCreateCertificateAuthority,
  type TlsMaterial,
} from '../local/sandbox/pki.js';

/**
 * SMTP servers that stand where Exchange should be and are not it: what a wrong
 * EXOSEND_SMTP_HOST, a relay or a TLS-intercepting proxy looks like from the app.
 */
export interface Impostor {
  port: number;
  /** Every command line the server received, in order. */
  commands: string[];
  close(): Promise<void>;
}

const hostname = 'relay.fabrikam.example';

/** Greets and answers EHLO without offering STARTTLS, and refuses it when asked. */
export async function startServerWithoutStartTls(): Promise<Impostor> {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write(`220 ${hostname} ESMTP ready\r\n`);
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        commands.push(line);
        const verb = line.split(' ')[0]?.toUpperCase();
        if (verb === 'EHLO') socket.write(`250-${hostname} Hello\r\n250-SIZE 36700160\r\n250 8BITMIME\r\n`);
        else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n');
        else socket.write('502 5.5.1 Command not implemented\r\n');
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    commands,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Offers STARTTLS with a certificate the app trusts, but no AUTH: mail before AUTH gets Exchange's 530. */
export async function startRelayWithoutAuth(): Promise<Impostor> {
  const ca = await loadOrCreateCertificateAuthority(join('.exosend', 'sandbox'));
  return startSmtpServer(issueServerCertificate(ca));
}

/** Offers STARTTLS with a certificate from a CA nobody trusts. */
export async function startServerWithUntrustedCertificate(): Promise<Impostor> {
  return startSmtpServer(issueServerCertificate(createCertificateAuthority()));
}

/**
 * Offers STARTTLS with a trusted certificate, but only TLS 1.0 and 1.1, as Exchange did before it
 * refused them (421 4.7.66): the RSA key exchange these ciphers use is what lets an old client in,
 * so the only thing that keeps exosend out is its own TLS 1.2 floor.
 */
export async function startServerWithOldTlsOnly(): Promise<Impostor> {
  const ca = await loadOrCreateCertificateAuthority(join('.exosend', 'sandbox'));
  return startSmtpServer(issueServerCertificate(ca), {
    minVersion: 'TLSv1',
    maxVersion: 'TLSv1.1',
    ciphers: 'AES128-SHA:AES256-SHA:@SECLEVEL=0',
  });
}

/** What the raw server below does when a client sends RSET (after it refused a recipient). */
export type RsetBehaviour = 'answer' | 'refuse' | 'drop' | 'slow';

/**
 * A raw SMTP server with STARTTLS (a certificate the app trusts) that accepts any AUTH, refuses every
 * recipient with 550, and answers RSET as told (and QUIT, or not): the replies no SMTP library server
 * lets a test choose.
 * `connections` counts TCP connections, `open` those not yet closed.
 */
export async function startServerWithRset(
  onRset: RsetBehaviour,
  { answerQuit = true }: { answerQuit?: boolean } = {},
): Promise<Impostor & { connections: () => number; open: () => number }> {
  const ca = await loadOrCreateCertificateAuthority(join('.exosend', 'sandbox'));
  const { certPem, keyPem } = issueServerCertificate(ca);
  const secureContext = createSecureContext({ cert: certPem, key: keyPem });
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((plain) => {
    connections++;
    sockets.add(plain);
    plain.on('close', () => sockets.delete(plain));
    plain.on('error', () => undefined);
    let socket: Socket = plain;
    let buffered = '';
    const reply = (line: string) => socket.write(`${line}\r\n`);
    const onLine = (line: string) => {
      commands.push(line.startsWith('AUTH') ? 'AUTH' : line);
      const verb = line.split(' ')[0]?.toUpperCase();
      if (verb === 'EHLO') reply(`250-${hostname} Hello\r\n250-AUTH XOAUTH2\r\n250 STARTTLS`);
      else if (verb === 'STARTTLS') {
        reply('220 2.0.0 SMTP server ready');
        plain.removeAllListeners('data');
        const secure = new TLSSocket(plain, { isServer: true, secureContext });
        secure.on('data', onData);
        secure.on('error', () => undefined);
        socket = secure;
        buffered = '';
      } else if (verb === 'AUTH') reply('235 2.7.0 Authentication successful');
      else if (verb === 'MAIL') reply('250 2.1.0 Sender OK');
      else if (verb === 'RCPT')
        reply('550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup');
      else if (verb === 'RSET') {
        if (onRset === 'drop') plain.destroy();
        else if (onRset === 'refuse') reply('500 5.3.3 Unrecognized command');
        else if (onRset === 'slow') setTimeout(() => reply('250 2.0.0 Resetting'), 300);
        else reply('250 2.0.0 Resetting');
      } else if (verb === 'QUIT') {
        if (answerQuit) socket.end('221 2.0.0 Service closing transmission channel\r\n');
      } else reply('250 2.0.0 OK');
    };
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        onLine(line);
      }
    };
    plain.on('data', onData);
    reply(`220 ${hostname} Microsoft ESMTP MAIL Service ready`);
  });
  const port = await listen(server);
  return {
    port,
    commands,
    connections: () => connections,
    open: () => sockets.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function startSmtpServer(tls: TlsMaterial, tlsOptions: Record<string, string> = {}): Promise<Impostor> {
  const commands: string[] = [];
  const server = new SMTPServer({
    secure: false,
    key: tls.keyPem,
    cert: tls.certPem,
    ...tlsOptions,
    name: hostname,
    disabledCommands: ['AUTH'],
    disableReverseLookup: true,
    logger: false,
    // the app's pool may still hold its session when the test is over
    closeTimeout: 100,
    onMailFrom(address, _session, callback) {
      commands.push(`MAIL FROM:<${address.address}>`);
      callback(Object.assign(new Error('5.7.57 Client not authenticated to send mail.'), { responseCode: 530 }));
    },
  });
  server.on('error', () => undefined);
  const port = await listen(server.server);
  return {
    port,
    commands,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
