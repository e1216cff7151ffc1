import { parseMailRequest } from '../src/mail/parse-request.js';
import { RequestRejected } from '../src/mail/request-rejected.js';
import { median } from './stats.js';

/** One hostile body: what refusing it cost exosend against reading its bytes with JSON.parse alone. */
export interface HostileCase {
  name: string;
  bodyMb: number;
  /** exosend's parseMailRequest, from text to the RequestRejected it throws. */
  refuseMs: number;
  /** JSON.parse of the same text: the least any JSON API pays for these bytes. */
  parseMs: number;
  /** Characters of the answer's JSON error. */
  answerChars: number;
  details: number;
}

export interface HostileInput {
  repetitions: number;
  cases: HostileCase[];
}

const mb = 1024 * 1024;
const config = { allowedSenders: ['exosend@contoso.example'] };

/** Bodies an attacker with a function key can send under the 38.5 MB body cap. */
function bodies(targetMb: number): Array<{ name: string; text: string }> {
  const invalidRecipients = Math.floor((targetMb * mb) / 4);
  const wideHeaders = Math.floor((targetMb * mb) / 12);
  // JSON.parse of millions of levels holds an array per level: 4 MB of them is enough to compare
  const levels = 2 * mb;
  return [
    {
      name: `${(invalidRecipients / 1e6).toFixed(1)}M invalid recipients`,
      text: `{"subject":"s","text":"t","to":[${'"x",'.repeat(invalidRecipients - 1)}"x"]}`,
    },
    {
      name: `${(wideHeaders / 1e6).toFixed(1)}M headers`,
      text: `{"to":["a@b.example"],"subject":"s","text":"t","headers":{${Array.from({ length: wideHeaders }, (_, i) => `"X${i.toString(36)}":"v"`).join(',')}}}`,
    },
    { name: `${(levels / 1e6).toFixed(1)}M levels of nesting`, text: `${'['.repeat(levels)}${']'.repeat(levels)}` },
  ];
}

/** Refusing a hostile body costs about what reading its bytes costs: measured on the same text, interleaved. */
export function measureHostileInput(targetMb: number, repetitions: number): HostileInput {
  const cases = bodies(targetMb).map(({ name, text }) => {
    const refuse: number[] = [];
    const parse: number[] = [];
    let answer: RequestRejected | undefined;
    for (let i = 0; i < repetitions; i++) {
      let started = performance.now();
      try {
        parseMailRequest(text, config);
      } catch (error) {
        if (!(error instanceof RequestRejected)) throw error;
        answer = error;
      }
      refuse.push(performance.now() - started);
      started = performance.now();
      JSON.parse(text);
      parse.push(performance.now() - started);
    }
    if (!answer) throw new Error(`${name} was not refused`);
    const json = JSON.stringify({ error: { code: answer.code, message: answer.message, details: answer.details } });
    return {
      name,
      bodyMb: Buffer.byteLength(text) / mb,
      refuseMs: median(refuse),
      parseMs: median(parse),
      answerChars: json.length,
      details: answer.details.length,
    };
  });
  return { repetitions, cases };
}
