import { z } from 'zod';
import { reservedHeaderReason } from './reserved-headers.js';

/** Exchange Online's defaults: 500 recipients a message, 35 MB a message after encoding. */
export const mailLimits = {
  maxRecipients: 500,
  maxMessageBytes: 35 * 1024 * 1024,
  maxAttachments: 100,
  maxHeaders: 50,
  maxSubjectLength: 998,
  /**
   * A run of characters without white space cannot be folded, and RFC 5322 allows 998 characters a
   * line: nodemailer puts a long run on a continuation line of its own (one space, then the run), and
   * the longest header name (76) with its colon and space still leaves room for 900.
   */
  maxUnbrokenHeaderRun: 900,
} as const;

/**
 * An idempotency key is also the id of the status record, of the Table entity that holds it, and a
 * segment of its status URL: one made only of dots would be eaten by URL normalisation. No slash,
 * so an id is never a path. Dots stay allowed (keys such as `order.42` exist), so an id may begin
 * with another id and a dot: whatever names a thing by its id reads the whole name, never its
 * start (src/queue/claim-check-name.ts). Every way in checks an id against this: the request's
 * key, an envelope, a producer's bare request, a status URL, a dead letter put back.
 */
export const idempotencyKeyPattern = /^(?!\.+$)[A-Za-z0-9._:~-]{1,128}$/;

/** CR, LF or NUL in a value that becomes a header would let a caller write headers of their own. */
const noLineBreaks = (s: string) => !/[\r\n\0]/.test(s);

/**
 * Unicode's bidirectional controls (UAX #9: the embeddings and overrides U+202A-U+202E, the isolates
 * U+2066-U+2069, the marks U+200E, U+200F and U+061C) change the order in which text is shown, not
 * what it is: `invoice\u202Efdp.exe` shows as "invoiceexe.pdf" and opens as a program (MITRE ATT&CK
 * T1036.002, Right-to-Left Override; the same trick in source code is CVE-2021-42574). A file's
 * extension decides what opens it, so a file name may hold none of them, marks included: they can
 * still move the dot among neutral characters, and no file name needs them.
 */
const bidiControls = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;
const bidiControlsMessage =
  'must not contain Unicode bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C): they can show a name with another extension than it has';

const foldable = (s: string) => !new RegExp(`\\S{${mailLimits.maxUnbrokenHeaderRun + 1}}`).test(s);
const foldableMessage = `must not have more than ${mailLimits.maxUnbrokenHeaderRun} characters without a space (a mail header line holds at most 998)`;

const address = z
  .string()
  .max(320)
  .refine(noLineBreaks, 'must not contain line breaks')
  .pipe(z.email('must be an email address'));

/** One address or a list of them; one is read as a list of one. */
/**
 * One address or a list of them; one is read as a list of one. A list longer than the whole
 * message's limit is refused on its length alone, before any element is looked at.
 */
const addressList = z
  .preprocess(
    (v) => (typeof v === 'string' ? [v] : v),
    z.array(address).max(mailLimits.maxRecipients, `at most ${mailLimits.maxRecipients} recipients`),
  )
  .default([]);

const headerName = z
  .string()
  .regex(/^[!-9;-~]{1,76}$/, 'must be a header field name (printable ASCII, no colon or space)')
  .superRefine((name, context) => {
    const reason = reservedHeaderReason(name);
    if (reason) context.addIssue({ code: 'custom', message: `cannot be set by a caller: it ${reason}` });
  });

const headerValue = z
  .string()
  .max(998)
  .refine(noLineBreaks, 'must not contain line breaks')
  .refine(foldable, foldableMessage);

/** At most `maxHeaders` names, counted before any of them is checked. */
const headerMap = z.preprocess(
  (h, context) => {
    if (typeof h !== 'object' || h === null || Object.keys(h).length <= mailLimits.maxHeaders) return h;
    context.addIssue({ code: 'custom', message: `at most ${mailLimits.maxHeaders} headers`, input: h });
    return z.NEVER;
  },
  z.record(headerName, headerValue),
);

/**
 * Strict base64 (RFC 4648 alphabet, padded): Node's decoder accepts anything and would hide a mistake.
 * A flat character class, not a repeated group: the group form overflows the stack on megabytes.
 */
const base64 = z.string().refine((s) => s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s), 'must be base64');

const attachment = z.strictObject({
  filename: z
    .string()
    .min(1)
    .max(255)
    .refine(noLineBreaks, 'must not contain line breaks')
    .refine((f) => !/[\\/]/.test(f), 'must be a file name, not a path')
    .refine((f) => !bidiControls.test(f), bidiControlsMessage),
  contentType: z
    .string()
    // RFC 6838: 127 characters a type and a subtype
    .max(255)
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
    subject: z
      .string()
      .max(mailLimits.maxSubjectLength)
      .refine(noLineBreaks, 'must not contain line breaks')
      .refine(foldable, foldableMessage),
    text: z.string().optional(),
    html: z.string().optional(),
    attachments: z
      .array(attachment)
      .max(mailLimits.maxAttachments, `at most ${mailLimits.maxAttachments} attachments`)
      .default([]),
    headers: headerMap.default({}),
    idempotencyKey: z
      .string()
      .regex(idempotencyKeyPattern, 'must be 1-128 letters, digits or . _ : ~ - (not dots alone)')
      .optional(),
  })
  .refine((r) => r.to.length + r.cc.length + r.bcc.length > 0, {
    path: ['to'],
    message: 'at least one recipient is required',
  })
  .refine((r) => r.to.length + r.cc.length + r.bcc.length <= mailLimits.maxRecipients, {
    path: ['to'],
    message: `at most ${mailLimits.maxRecipients} recipients (to, cc and bcc together)`,
  })
  .refine((r) => r.text !== undefined || r.html !== undefined, { path: ['text'], message: 'text or html is required' });

export type MailRequest = z.infer<typeof mailRequestSchema>;
