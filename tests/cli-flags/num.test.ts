// num(): the one parser of numeric flags. Only plain decimal numbers pass; '' and ' ' are not 0, '0x2' is not 2.
import { describe, it, expect } from 'vitest';
import { num } from '../../harness/commands/command.js';
import { expectBadInput } from '../helpers/expect.js';

function refused(v: string, opts: Parameters<typeof num>[2] = {}): unknown {
  try { num(v, '--idle', opts); return undefined; } catch (err) { return err; }
}

describe('num()', () => {
  it('refuses empty, blank and non-decimal text with BAD_FLAG naming the flag and an example', () => {
    for (const v of ['', ' ', '\t', '0x2', '0b1', '0o7', '1_000', 'Infinity', '-Infinity', 'NaN', '1e400', '1,5', '5%', '1 2', 'abc', '.', 'e3', '--1']) {
      expectBadInput(refused(v), 'BAD_FLAG', /^--idle '.*' .*is not a decimal number/, /^pass e\.g\. --idle \S+$/);
    }
  });

  it('accepts plain decimal numbers', () => {
    expect(num('1', '--x')).toBe(1);
    expect(num('0.5', '--x')).toBe(0.5);
    expect(num('.5', '--x')).toBe(0.5);
    expect(num('1e3', '--x')).toBe(1000);
    expect(num('2.5E-1', '--x')).toBe(0.25);
    expect(num('+2', '--x')).toBe(2);
    expect(num('-1', '--x')).toBe(-1);
    expect(num('-1', '--x', { min: -5 })).toBe(-1);
    expect(num(undefined, '--x', { min: 1 })).toBeUndefined();
  });

  it('applies min, exclusiveMin, max and integer, and names the bounds', () => {
    expectBadInput(refused('-1', { min: 0 }), 'BAD_FLAG', /≥ 0/, /--idle 1/);
    expectBadInput(refused('0', { min: 0, exclusiveMin: true }), 'BAD_FLAG', /> 0/, /--idle 1/);
    expectBadInput(refused('1.5', { integer: true, min: 1 }), 'BAD_FLAG', /an integer ≥ 1/, /--idle 2/);
    expectBadInput(refused('65536', { integer: true, min: 1, max: 65535 }), 'BAD_FLAG', /an integer from 1 to 65535/, /--idle 2/);
    expectBadInput(refused('11', { max: 10 }), 'BAD_FLAG', /≤ 10/, /--idle 1/);
    expectBadInput(refused('70000', { integer: true, min: 0, max: 65535, example: 7379 }), 'BAD_FLAG', /70000/, /--idle 7379/);
    expect(num('65535', '--x', { integer: true, min: 1, max: 65535 })).toBe(65535);
    expect(num('1e3', '--x', { integer: true })).toBe(1000);
  });

  it('the example in the remedy is itself accepted', () => {
    const cases: Array<Parameters<typeof num>[2]> = [{}, { min: 0 }, { min: 1, integer: true }, { min: 0, exclusiveMin: true }, { max: 0.5 }, { min: -3, max: -2, integer: true }];
    for (const o of cases) {
      const err = refused('x', o) as { remedy: string };
      const example = err.remedy.replace(/^pass e\.g\. --idle /, '');
      expect(num(example, '--idle', o), JSON.stringify(o)).toBeTypeOf('number');
    }
  });
});
