import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonTextProblem, jsonValueProblem, maxJsonDepth, maxJsonValues } from '../src/mail/json-limits.js';

const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('the shape of JSON text, read before it is parsed', () => {
  it('when JSON nests exactly the limit, then it is read; one level more, then it is not', () => {
    assert.equal(jsonTextProblem(nested(maxJsonDepth)), undefined);
    assert.match(jsonTextProblem(nested(maxJsonDepth + 1)) ?? '', /nest more than 16/);
  });

  it('when JSON holds exactly the value budget, then it is read; one value more, then it is not', () => {
    assert.equal(jsonTextProblem(`[${'0,'.repeat(maxJsonValues)}0]`), undefined);
    assert.match(jsonTextProblem(`[${'0,'.repeat(maxJsonValues + 1)}0]`) ?? '', /more than 10,000 values/);
  });

  it('when brackets and commas stand inside strings, even after escaped quotes, then they are not counted', () => {
    const inside = JSON.stringify({ a: `x"${'['.repeat(40)}`, b: `\\"${'{'.repeat(40)}`, c: ','.repeat(20_000) });
    assert.equal(jsonTextProblem(inside), undefined);
  });

  it('when a string ends in an escaped backslash, then the quote after it closes the string and what follows is counted', () => {
    assert.match(jsonTextProblem(`{"a":"\\\\","b":${nested(maxJsonDepth)}}`) ?? '', /nest more than 16/);
    assert.equal(jsonTextProblem(`{"a":"\\\\\\"","b":"${'['.repeat(40)}"}`), undefined);
  });

  it('when a parsed value is checked, then the same limits hold without recursion', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.match(jsonValueProblem(deep) ?? '', /nest more than 16/);
    assert.match(jsonValueProblem({ to: Array(maxJsonValues + 1).fill('x') }) ?? '', /more than 10,000 values/);
    assert.equal(jsonValueProblem(JSON.parse(nested(maxJsonDepth))), undefined);
  });
});
