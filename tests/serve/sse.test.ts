import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SseParser } from '../../workloads/serve/sse.js';

function parseAll(pieces: string[]) {
  const events: Array<[string, string]> = [];
  const bad: string[] = [];
  const p = new SseParser({ event: (d, n) => events.push([d, n]), malformed: (l) => bad.push(l) });
  for (const x of pieces) p.push(x);
  p.end();
  return { events, bad };
}

const STREAM = [
  ': keep-alive ping',
  'data: {"choices":[{"text":"a"}]}',
  '',
  'event: error',
  'data: {"error":{"message":"x"}}',
  '',
  'id: 7',
  'retry: 100',
  'data:{"no":"space"}',
  '',
  'data: line one',
  'data: line two',
  '',
  'data: [DONE]',
  '',
].join('\n');

describe('SSE parser', () => {
  it('dispatches events at blank lines, joins multi-line data, skips comments and known fields', () => {
    const { events, bad } = parseAll([STREAM]);
    expect(events).toEqual([
      ['{"choices":[{"text":"a"}]}', ''],
      ['{"error":{"message":"x"}}', 'error'],
      ['{"no":"space"}', ''],
      ['line one\nline two', ''],
      ['[DONE]', ''],
    ]);
    expect(bad).toEqual([]);
  });

  it('takes \\r\\n and lone \\r line ends the same as \\n', () => {
    expect(parseAll([STREAM.replace(/\n/g, '\r\n')]).events).toEqual(parseAll([STREAM]).events);
    expect(parseAll([STREAM.replace(/\n/g, '\r')]).events).toEqual(parseAll([STREAM]).events);
  });

  it('gives the same events however the socket splits the text (every split, every line-end style)', () => {
    fc.assert(fc.property(
      fc.constantFrom('\n', '\r\n', '\r'),
      fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 12 }),
      (eol, cuts) => {
        const text = STREAM.replace(/\n/g, eol);
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const pieces: string[] = [];
        let prev = 0;
        for (const c of at) { pieces.push(text.slice(prev, c)); prev = c; }
        pieces.push(text.slice(prev));
        expect(parseAll(pieces).events).toEqual(parseAll([text]).events);
      },
    ), { numRuns: 300 });
  });

  it('reports a line that is no SSE field as malformed, and keeps going', () => {
    const { events, bad } = parseAll(['data: {"a":1}\n\nthis is not sse\ndata: {"b":2}\n\n']);
    expect(bad).toEqual(['this is not sse']);
    expect(events.map((e) => e[0])).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('dispatches a last event that lacks its blank line (or newline) when the stream ends', () => {
    expect(parseAll(['data: {"a":1}\n\ndata: [DONE]']).events.map((e) => e[0])).toEqual(['{"a":1}', '[DONE]']);
  });
});
