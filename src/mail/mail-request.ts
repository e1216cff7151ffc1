import { z } from 'zod';

/** Exchange Online's defaults: 500 recipients a message, 35 MB a message after encoding. */
export const mailLimits = {
  maxRecipients: 500,
  maxMessageBytes: 35 * 1024 * 1024,
  maxAttachments: 100,
  maxHeaders: 50,
  maxSubjectLength: 998,
} as const;

/** An idempotency key is also the id of the status record and of the Table entity that holds it. */
export const idempotencyKeyPattern = /^[A-Za-z0-9._:~-]{1,128}$/;

/** CR, LF or NUL in a value that becomes a header would let a caller write headers of their own. */
const noLineBreaks = (s: string) => !/[\r\n\0]/.test(s);

const address = z
  .string()
  .max(320)
  .refine(noLineBreaks, 'must not contain line breaks')
  .pipe(z.email('must be an email address'));

/** One address or a list of them; one is read as a list of one. */
const addressList = z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(address)).default([]);

/** Headers that carry addresses, identity or structure: exosend sets them, a caller cannot. */
const reservedHeaders = new Set([
  'from', 'sender', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'return-path', 'message-id', 'date',
  'mime-version', 'received', 'dkim-signature', 'resent-from', 'resent-sender', 'resent-to', 'resent-cc',
  'resent-bcc', 'disposition-notification-to', 'return-receipt-to', 'content-type',
  'content-transfer-encoding', 'content-disposition',
]);

const headerName = z
  .string()
  .regex(/^[!-9;-~]{1,76}$/, 'must be a header field name (printable ASCII, no colon or space)')
  .refine((name) => !reservedHeaders.has(name.toLowerCase()) && !/^content-/i.test(name), 'is set by exosend and cannot be overridden');

const headerValue = z.string().max(998).refine(noLineBreaks, 'must not contain line breaks');

/**
 * Strict base64 (RFC 4648 alphabet, padded): Node's decoder accepts anything and would hide a mistake.
 * A flat character class, not a repeated group: the group form overflows the stack on megabytes.
 */
const base64 = z
  .string()
  .refine((s) => s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s), 'must be base64');

const attachment = z.strictObject({
  filename: z
    .string()
    .min(1)
    .max(255)
    .refine(noLineBreaks, 'must not contain line breaks')
    .refine((f) => !/[\\/]/.test(f), 'must be a file name, not a path'),
  contentType: z
    .string()
    .regex(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i, 'must be a media type such as application/pdf')
    // a multipart or message type would change the MIME structure: drop the content, or show a forged message inline
    .refine((t) => !/^(multipart|message)\//i.test(t), 'must not be a multipart/* or message/* type')
    .optional(),
  contentBase64: base64,
});

export const mailRequestSchema = z
  .strictObject({
    from: address.optional(),
    to: addressList,
    cc: addressList,
    bcc: addressList,
    replyTo: address.optional(),
    subject: z.string().max(mailLimits.maxSubjectLength).refine(noLineBreaks, 'must not contain line breaks'),
    text: z.string().optional(),
    html: z.string().optional(),
    attachments: z.array(attachment).max(mailLimits.maxAttachments).default([]),
    headers: z
      .record(headerName, headerValue)
      .refine((h) => Object.keys(h).length <= mailLimits.maxHeaders, `at most ${mailLimits.maxHeaders} headers`)
      .default({}),
    idempotencyKey: z
      .string()
      .regex(idempotencyKeyPattern, 'must be 1-128 letters, digits or . _ : ~ -')
      .optional(),
  })
  .refine((r) => r.to.length + r.cc.length + r.bcc.length > 0, { path: ['to'], message: 'at least one recipient is required' })
  .refine((r) => r.to.length + r.cc.length + r.bcc.length <= mailLimits.maxRecipients, {
    path: ['to'],
    message: `at most ${mailLimits.maxRecipients} recipients (to, cc and bcc together)`,
  })
  .refine((r) => r.text !== undefined || r.html !== undefined, { path: ['text'], message: 'text or html is required' });

export type MailRequest = z.infer<typeof mailRequestSchema>;

/** What the message will weigh on the wire: attachments are already base64, bodies grow by a third at most. */
export function encodedSize(request: MailRequest): number {
  const bodies = Buffer.byteLength(request.text ?? '') + Buffer.byteLength(request.html ?? '');
  const attachments = request.attachments.reduce((sum, a) => sum + a.contentBase64.length, 0);
  return Math.ceil(bodies * 4 / 3) + attachments;
}
