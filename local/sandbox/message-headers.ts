import addressparser from 'nodemailer/lib/addressparser';

/** The two header fields Exchange's submission checks read: From (Send As) and Message-ID (its reply). */
export interface SubmittedHeaders {
  fromAddresses: string[];
  messageId?: string;
}

function headerBlock(raw: Buffer): string {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return (end === -1 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
}

export function readSubmittedHeaders(raw: Buffer): SubmittedHeaders {
  const fields = new Map<string, string>();
  for (const line of headerBlock(raw).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  const from = fields.get('from');
  const fromAddresses = from
    ? addressparser(from, { flatten: true }).flatMap((a) => (a.address ? [a.address] : []))
    : [];
  const messageId = fields.get('message-id');
  return messageId ? { fromAddresses, messageId } : { fromAddresses };
}
