import { z } from 'zod';
import type { SuppressionList } from '../../src/queue/suppression-list.js';

export type { SuppressionList };

/** What the page posts to add one: as `exosend suppression add ADDRESS [--reason TEXT]` (cli/suppression.ts). */
const addition = z.object({ recipient: z.email(), reason: z.string().max(200).optional() });

/** Adds the admin's own suppression, with the reason the CLI writes (ADDED_BY_ADMIN). */
export async function addSuppression(list: SuppressionList, body: unknown): Promise<JsonReply> {
  const parsed = addition.safeParse(body);
  if (!parsed.success)
    return {
      status: 400,
      json: {
        error: { message: 'Give an email address to suppress (and, if you like, a reason of up to 200 characters).' },
      },
    };
  const { recipient, reason } = parsed.data;
  const trimmed = reason?.trim();
  await list.add({
    recipient,
    reason: trimmed ? `ADDED_BY_ADMIN: ${trimmed}` : 'ADDED_BY_ADMIN',
    at: new Date().toISOString(),
  });
  return { json: { recipient: recipient.toLowerCase(), suppressed: true } };
}

/** A JSON answer of the console (console-server.ts's Reply, as far as this sets it; not imported, which would make a loop). */
type JsonReply = { status?: number; json: unknown };
