// Assertions shared by test files.
import { expect } from 'vitest';
import { EXIT, WattbenchError } from '../../lib/errors.js';

/** r is a bad-input error (exit 2) with this code, and its message and remedy say what they should. */
export function expectBadInput(r: unknown, code: string, message: RegExp, remedy: RegExp): void {
  expect(r).toBeInstanceOf(WattbenchError);
  const e = r as WattbenchError;
  expect(e.code).toBe(code);
  expect(e.exit).toBe(EXIT.BAD_INPUT);
  expect(e.message).toMatch(message);
  expect(e.remedy).toMatch(remedy);
}
