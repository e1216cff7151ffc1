// What every view uses: the page's elements, building DOM from text, the console's and the app's
// HTTP calls, and the formats of times, sizes and address lists. Everything from a message or a
// letter goes into the page as text (textContent, or a string child of el()), never as markup: el()
// is the page's escaping, and no view sets innerHTML.

/** The element with this id in index.html, checked to be of the kind the caller uses. */
export function $<T extends HTMLElement = HTMLElement>(id: string, kind?: new () => T): T {
  const node = document.getElementById(id);
  if (!node || (kind && !(node instanceof kind)))
    throw new Error(`index.html has no ${kind?.name ?? 'element'} #${id}`);
  return node as T;
}

/** Every element the selector matches, of one kind. */
export function all<T extends HTMLElement = HTMLElement>(selector: string): T[] {
  return [...document.querySelectorAll<T>(selector)];
}

export type Attributes = Record<string, string | boolean | undefined | ((event: Event) => void)>;
export type Child = Node | string | null | undefined;

/** An element with attributes and children (strings become text). */
export function el(tag: string, attrs: Attributes = {}, ...children: (Child | Child[])[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') {
      if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    } else if (name === 'class') node.className = value === true ? '' : value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child);
  return node;
}

export function showError(target: HTMLElement, message: string): void {
  target.textContent = message;
  target.hidden = !message;
}

/** What a caught value says (an Error's message). */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A console call (/console/api); throws an Error with the server's message. */
export async function api<T>(path: string, options: { method?: string; body?: string } = {}): Promise<T> {
  const response = await fetch(`/console/api/${path}`, {
    ...options,
    headers: { 'x-exosend-console': '1', ...(options.body ? { 'content-type': 'application/json' } : {}) },
  });
  const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!response.ok) throw new Error(body.error?.message ?? `The console answered ${response.status}.`);
  return body as T;
}

/** A call to the app itself (/api), with the local function key, as any caller makes it. */
export function appFetch(
  path: string,
  functionKey: string,
  init: { method?: string; body?: string } = {},
): Promise<Response> {
  return fetch(`/api/${path}`, {
    ...init,
    headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), 'x-functions-key': functionKey },
  });
}

export const time = (iso: string): string => (iso ? new Date(iso).toLocaleTimeString() : '');
export const size = (bytes: number): string =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
      ? `${(bytes / 1024).toFixed(1)} KB`
      : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const list = (addresses: readonly string[]): string => addresses.join(', ');
