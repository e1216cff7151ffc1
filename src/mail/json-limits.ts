/**
 * How deep JSON exosend reads may nest. A mail request nests three levels (request, attachments,
 * attachment) and exosend's queue envelope one more; JSON.parse takes millions of levels, but
 * JSON.stringify, zod and every later reader recurse and overflow the stack on them.
 */
export const maxJsonDepth = 16;

/**
 * How many values JSON exosend reads may hold. A mail request at every limit holds about two
 * thousand (500 recipients in each of three lists, 100 attachments of three fields, 50 headers);
 * a body of millions of tiny values costs JSON.parse seconds of CPU and hundreds of MB of heap.
 */
export const maxJsonValues = 10_000;

/**
 * What is wrong with the shape of JSON text, before it is parsed: one pass over the text, strings
 * skipped, nothing allocated. Commas count the values of arrays and objects.
 */
export function jsonTextProblem(text: string): string | undefined {
  let depth = 0;
  let values = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = closingQuote(text, i);
      if (i === -1) return undefined; // not JSON: JSON.parse says so
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxJsonDepth) return tooDeep;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    } else if (c === 0x2c /* , */ && ++values > maxJsonValues) {
      return tooMany;
    }
  }
  return undefined;
}

/**
 * Where the string opened at `open` ends: the next quote not escaped by an odd number of
 * backslashes, found by the engine's own search (a body is mostly one long base64 string, which a
 * loop over its characters would make several times dearer than JSON.parse itself).
 */
function closingQuote(text: string, open: number): number {
  for (let at = text.indexOf('"', open + 1); at !== -1; at = text.indexOf('"', at + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c /* \ */) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return -1;
}

/** The same limits for a value already parsed (the Functions host hands queue messages over as JSON), walked without recursion. */
export function jsonValueProblem(value: unknown): string | undefined {
  const stack: Array<[unknown, number]> = [[value, 1]];
  let values = 0;
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > maxJsonDepth) return tooDeep;
    for (const child of Object.values(current)) {
      if (++values > maxJsonValues) return tooMany;
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

const tooDeep = `must not nest more than ${maxJsonDepth} levels of arrays and objects`;
const tooMany = `must not hold more than ${maxJsonValues.toLocaleString('en-US')} values (a mail request at every limit holds about 2,000)`;
