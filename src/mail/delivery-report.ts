/**
 * Delivery reports (RFC 3464: multipart/report; report-type=delivery-status), read by hand: the
 * report's machine part is a few header-like fields in blank-line separated groups, so a small
 * reader here serves where a MIME library (mailparser is only a devDependency) would add a
 * production dependency for one part. It reads what Exchange Online sends (X-MS-Exchange-
 * Message-Is-Ndr, a multipart/alternative human part, message/delivery-status, then the message
 * returned whole as message/rfc822 or as text/rfc822-headers), and anything else is no report.
 */

export type ReportAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export interface ReportedRecipient {
  /** Final-Recipient's address (`rfc822;` removed). */
  recipient: string;
  /** Original-Recipient's address, when the report gives it. */
  originalRecipient?: string;
  action: ReportAction;
  /** The enhanced status code (RFC 3463), such as 5.1.10. */
  status: string;
  diagnosticCode?: string;
  remoteMta?: string;
}

export interface DeliveryReport {
  /** Original-Envelope-Id: the ENVID the message was sent with. */
  envelopeId?: string;
  /** The Message-ID of the returned message (its headers, else the report's In-Reply-To or References). */
  originalMessageId?: string;
  reportingMta?: string;
  recipients: ReportedRecipient[];
}

/** A report larger than this is not read: Exchange's are a few kB with RET=HDRS. */
export const maxReportBytes = 4 * 1024 * 1024;

const actions: ReadonlySet<string> = new Set(['failed', 'delayed', 'delivered', 'relayed', 'expanded']);

/** The delivery report in a MIME message, or undefined when the message is not one. Never throws. */
export function parseDeliveryReport(mime: Buffer | string): DeliveryReport | undefined {
  const text = typeof mime === 'string' ? mime : mime.subarray(0, maxReportBytes).toString('latin1');
  const top = splitEntity(text);
  const type = contentType(top.headers);
  if (
    type.value !== 'multipart/report' ||
    type.params['report-type']?.toLowerCase() !== 'delivery-status' ||
    !type.params['boundary']
  )
    return undefined;

  let status: Field[][] | undefined;
  let returned: Headers | undefined;
  for (const part of multipartBodies(top.body, type.params['boundary'])) {
    const entity = splitEntity(part);
    const partType = contentType(entity.headers).value;
    const body = decodeBody(entity.body, header(entity.headers, 'content-transfer-encoding'));
    if (partType === 'message/delivery-status' || partType === 'message/global-delivery-status')
      status ??= fieldGroups(body);
    else if (['message/rfc822', 'text/rfc822-headers', 'message/global', 'message/global-headers'].includes(partType))
      returned ??= splitEntity(body).headers;
  }
  if (!status) return undefined;

  const [perMessage = [], ...perRecipient] = status;
  const recipients = perRecipient.flatMap((group) => {
    const recipient = address(field(group, 'final-recipient'));
    const action = field(group, 'action')?.toLowerCase();
    const code = /\d\.\d{1,3}\.\d{1,3}/.exec(field(group, 'status') ?? '')?.[0];
    if (!recipient || !action || !actions.has(action) || !code) return [];
    const original = address(field(group, 'original-recipient'));
    const diagnosticCode = field(group, 'diagnostic-code');
    const remoteMta = field(group, 'remote-mta');
    return [
      {
        recipient,
        ...(original && { originalRecipient: original }),
        action: action as ReportAction,
        status: code,
        ...(diagnosticCode && { diagnosticCode }),
        ...(remoteMta && { remoteMta }),
      },
    ];
  });
  const envelopeId = field(perMessage, 'original-envelope-id')?.trim();
  const reportingMta = field(perMessage, 'reporting-mta');
  const originalMessageId =
    messageIdIn(returned && header(returned, 'message-id')) ??
    messageIdIn(header(top.headers, 'in-reply-to')) ??
    lastMessageIdIn(header(top.headers, 'references'));
  return {
    ...(envelopeId && { envelopeId }),
    ...(originalMessageId && { originalMessageId }),
    ...(reportingMta && { reportingMta }),
    recipients,
  };
}

type Headers = [name: string, value: string][];
type Field = [name: string, value: string];

/** Headers (unfolded, names lower-cased) and the body after the first blank line. */
function splitEntity(text: string): { headers: Headers; body: string } {
  const normal = text.replace(/\r\n/g, '\n');
  if (normal.startsWith('\n')) return { headers: [], body: normal.slice(1) };
  const end = normal.indexOf('\n\n');
  return end < 0
    ? { headers: unfold(normal), body: '' }
    : { headers: unfold(normal.slice(0, end)), body: normal.slice(end + 2) };
}

function unfold(head: string): Headers {
  const headers: Headers = [];
  for (const line of head.split('\n')) {
    if (/^[ \t]/.test(line) && headers.length > 0) headers[headers.length - 1]![1] += ` ${line.trim()}`;
    else {
      const colon = line.indexOf(':');
      if (colon > 0) headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
    }
  }
  return headers;
}

const header = (headers: Headers, name: string) => headers.find(([n]) => n === name)?.[1];
const field = (group: Field[], name: string) => group.find(([n]) => n === name)?.[1];

function contentType(headers: Headers): { value: string; params: Record<string, string> } {
  const raw = header(headers, 'content-type') ?? 'text/plain';
  const [value = '', ...rest] = raw.split(';');
  const params: Record<string, string> = {};
  for (const param of rest) {
    const at = param.indexOf('=');
    if (at > 0)
      params[param.slice(0, at).trim().toLowerCase()] = param
        .slice(at + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
  }
  return { value: value.trim().toLowerCase(), params };
}

/** The bodies between `--boundary` lines, up to `--boundary--`. */
function multipartBodies(body: string, boundary: string): string[] {
  const lines = body.replace(/\r\n/g, '\n').split('\n');
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === `--${boundary}--`) break;
    if (trimmed === `--${boundary}`) {
      if (current) parts.push(current.join('\n'));
      current = [];
    } else current?.push(line);
  }
  if (current) parts.push(current.join('\n'));
  return parts;
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch (encoding?.toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('latin1');
    case 'quoted-printable':
      return body
        .replace(/=\n/g, '')
        .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    default:
      return body;
  }
}

/** The delivery-status body: groups of fields separated by blank lines (the first is per message). */
function fieldGroups(body: string): Field[][] {
  return body
    .replace(/\r\n/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((group) => unfold(group.trim()))
    .filter((group) => group.length > 0);
}

/** `rfc822;ada@example.com` -> the address, lower-cased; other address types are not addresses exosend sent to. */
function address(value: string | undefined): string | undefined {
  const match = /^\s*rfc822\s*;\s*<?([^\s<>]+@[^\s<>]+?)>?\s*$/i.exec(value ?? '');
  return match?.[1]?.toLowerCase();
}

const messageIdIn = (value: string | undefined) => /<[^<>\s]+>/.exec(value ?? '')?.[0];
const lastMessageIdIn = (value: string | undefined) => (value ?? '').match(/<[^<>\s]+>/g)?.at(-1);
