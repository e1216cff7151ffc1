import addressparser from 'nodemailer/lib/addressparser';

/** What Exchange reads from a MIME message Graph's sendMail hands it: its recipients come from the headers. */
export interface GraphMime {
  from: string | undefined;
  recipients: string[];
  /** The message without its Bcc header: the copy Exchange transmits (MS-OXCMAIL 2.1.3.1.1.2). */
  delivered: Buffer;
}

/** The base64 Graph requires (with line breaks, as in the sendMail page's example), or undefined. */
export function decodeStrictBase64(body: string): Buffer | undefined {
  const compact = body.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, 'base64');
}

export function readGraphMime(raw: Buffer): GraphMime | undefined {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  if (end <= 0) return undefined;
  // each header field with its folded continuation lines, as it stands in the bytes
  const fields = text.slice(0, end).split(/\r?\n(?![ \t])/);
  if (!fields.every((f) => /^[!-9;-~]+:/.test(f))) return undefined;
  const values = (name: string) =>
    fields
      .filter((f) => f.toLowerCase().startsWith(`${name}:`))
      .map((f) => f.slice(name.length + 1).replace(/\r?\n[ \t]+/g, ' '));
  const addresses = (name: string) =>
    values(name).flatMap((v) => addressparser(v, { flatten: true }).flatMap((a) => (a.address ? [a.address] : [])));
  const recipients = [
    ...new Set([...addresses('to'), ...addresses('cc'), ...addresses('bcc')].map((a) => a.toLowerCase())),
  ];
  let delivered = raw;
  const bcc = /^Bcc:[^\r\n]*(\r?\n[ \t][^\r\n]*)*\r?\n/im.exec(text.slice(0, end + 2));
  if (bcc)
    delivered = Buffer.concat([
      raw.subarray(0, bcc.index),
      raw.subarray(bcc.index + Buffer.byteLength(bcc[0], 'latin1')),
    ]);
  return { from: addresses('from')[0], recipients, delivered };
}
