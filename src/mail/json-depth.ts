/**
 * How deep JSON exosend reads may nest. A mail request nests three levels (request, attachments,
 * attachment) and exosend's queue envelope one more; JSON.parse takes millions of levels, but
 * JSON.stringify, zod and every later reader recurse and overflow the stack on them.
 */
export const maxJsonDepth = 16;

/** Whether JSON text nests deeper than `maxDepth`: one pass over the text, strings skipped, no allocation. */
export function jsonTextTooDeep(text: string, maxDepth = maxJsonDepth): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/** Whether a parsed value nests deeper than `maxDepth`, walked without recursion (the host may hand over parsed JSON). */
export function valueTooDeep(value: unknown, maxDepth = maxJsonDepth): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(current)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}
