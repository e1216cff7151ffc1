import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export that Node's ESM loader hands over wrapped
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Json = Record<string, any>;

/** What an OpenAPI document says of one answer of a route: whether it is described, whether the body fits, and its headers. */
export interface DescribedAnswer {
  described: boolean;
  ok: boolean;
  errors: string;
  headers: Json;
  /** Whether the document gives the answer a body at all (the host's 401 under `key` has none). */
  hasBody: boolean;
}

/** Validates an answer against the schema a document gives for this route, method and status. */
export function responseValidator(
  doc: Json,
): (path: string, method: string, status: number, body: unknown) => DescribedAnswer {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addSchema({ $id: 'urn:exosend:openapi-document', components: doc['components'], paths: doc['paths'] });
  return (path, method, status, body) => {
    const response = doc['paths'][path]?.[method]?.responses?.[String(status)] as Json | undefined;
    if (!response)
      return {
        described: false,
        ok: false,
        errors: `${method} ${path} describes no ${status}`,
        headers: {},
        hasBody: false,
      };
    const headers = (response['headers'] ?? {}) as Json;
    if (!response['content'])
      return { described: true, ok: body === undefined, errors: 'no body described', headers, hasBody: false };
    const pointer = `#/paths/${encodeURIComponent(path.replaceAll('~', '~0').replaceAll('/', '~1'))}/${method}/responses/${status}/content/application~1json/schema`;
    const check = ajv.getSchema(`urn:exosend:openapi-document${pointer}`);
    assert.ok(check, `no schema at ${pointer}`);
    const ok = check(body) === true;
    return { described: true, ok, errors: ajv.errorsText(check.errors), headers, hasBody: true };
  };
}
