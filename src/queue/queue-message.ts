import { z } from 'zod';
import { jsonTextProblem, jsonValueProblem } from '../mail/json-limits.js';
import { claimCheckDigestOf } from './claim-check-name.js';
import { isRecordId } from './record-id.js';

/** One try of a queued message, as the status record and the dead letter show it. */
export interface AttemptRecord {
  at: string;
  code: string;
}

/**
 * What exosend itself puts on the queue: the request's id and history, and the request inline or,
 * when too large for a queue message, the name of the blob that holds it (claim check).
 * A producer may instead put a bare mail request; the `exosend` key tells the two apart.
 */
export const envelopeSchema = z
  .strictObject({
    exosend: z.literal(1),
    // the id keys a Table entity: an id Table storage refuses would fail every delivery, reason unsaid
    // (an Entra caller's request id is `<app id>:<key>`: src/queue/record-id.ts)
    id: z.string().refine(isRecordId, 'has an id that is not 1-128 letters, digits or . _ : ~ - (not dots alone)'),
    /** Who sent it (src/auth/caller-scope.ts); absent: a producer on the queue, under the default policy. */
    caller: z.strictObject({ id: z.string().max(64), name: z.string().max(256) }).optional(),
    history: z.array(z.strictObject({ at: z.string(), code: z.string() })).default([]),
    request: z.unknown().optional(),
    blob: z.string().optional(),
  })
  // Only exactly a name exosend writes for this id (`<encoded id>.<digest>.json`): an envelope may
  // not read, send and then delete another request's blob, and the blob SDK throws an uncaught
  // error, out of reach of any catch, on a name Blob storage refuses as too long.
  .refine((e) => e.blob === undefined || claimCheckDigestOf(e.id, e.blob) !== undefined, {
    path: ['blob'],
    message: 'names a claim-check blob exosend cannot have written for this id',
  });

export type Envelope = z.infer<typeof envelopeSchema>;

export type DecodedMessage =
  | { kind: 'envelope'; envelope: Envelope }
  | { kind: 'request'; json: unknown }
  | { kind: 'undecodable'; reason: string };

/** The host's encoding: base64 of the UTF-8 JSON text. */
export function encodeQueueMessage(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64');
}

/**
 * Reads a queue message as the host hands it over (host.json: messageEncoding "none"): base64 of
 * JSON, as producers are asked to write, or plain JSON, which the worker has already parsed.
 * Decoding is strict, because Node's base64 decoder never fails and would turn garbage into data.
 */
export function decodeQueueMessage(body: unknown): DecodedMessage {
  let json: unknown = body;
  const badShape = (problem: string) =>
    ({ kind: 'undecodable', reason: `the message was not read: it ${problem}` }) as const;
  if (typeof body === 'string') {
    const text = strictBase64ToUtf8(body.trim());
    if (text === undefined)
      return { kind: 'undecodable', reason: 'the message is neither base64-encoded JSON nor JSON' };
    const shape = jsonTextProblem(text);
    if (shape) return badShape(shape);
    try {
      json = JSON.parse(text);
    } catch {
      return { kind: 'undecodable', reason: 'the message is base64, but what it encodes is not JSON' };
    }
  } else {
    const shape = jsonValueProblem(body);
    if (shape) return badShape(shape);
  }
  if (typeof json === 'object' && json !== null && 'exosend' in json) {
    const envelope = envelopeSchema.safeParse(json);
    if (envelope.success) return { kind: 'envelope', envelope: envelope.data };
    return {
      kind: 'undecodable',
      reason: `the message looks like exosend's own but is damaged: ${envelope.error.issues[0]?.message}`,
    };
  }
  return { kind: 'request', json };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function strictBase64ToUtf8(text: string): string | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  try {
    return utf8.decode(Buffer.from(text, 'base64'));
  } catch {
    return undefined;
  }
}
