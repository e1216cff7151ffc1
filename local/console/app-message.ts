/**
 * GET /api/messages/{id} as the app answers it (src/queue/message-view.ts: status, and
 * `delivery.recipients` once there is one), asked by the console's server with the local function
 * key: the page never holds a key or token for it. The app's status is passed on as it is (404 for
 * a message with no record, such as one sent before records were kept).
 */
export async function appMessage(baseUrl: string, functionKey: string, id: string): Promise<JsonReply> {
  const response = await fetch(`${baseUrl}/api/messages/${encodeURIComponent(id)}`, {
    headers: { 'x-functions-key': functionKey },
  });
  const json: unknown = await response.json().catch(() => undefined);
  if (json === undefined)
    return { status: 502, json: { error: { message: `The app answered ${response.status} with no JSON.` } } };
  return { status: response.status, json };
}

/** A JSON answer of the console (console-server.ts's Reply, as far as this sets it; not imported, which would make a loop). */
type JsonReply = { status?: number; json: unknown };
