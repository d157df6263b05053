// Number formatting and the escaping rules of each output format. Every string that comes from a result passes
// through one of the escapers here before it reaches a file: HTML via Handlebars' own escaping, Markdown via
// mdEscape (applied to the whole view), CSV via csvCell.
import type { Stats } from '../results/types.gen.js';

export const DASH = '–';

/** Three significant figures; grouping for large values; '–' for anything that is not a finite number. */
export function fmtNum(x: unknown, sig = 3): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return DASH;
  const a = Math.abs(x);
  if (a >= 10 ** sig) return Math.round(x).toLocaleString('en-US');
  if (a === 0) return '0';
  const s = x.toPrecision(sig);
  // toPrecision switches to exponent form below 1e-6; keep it readable
  return s.includes('e') ? x.toExponential(sig - 1) : s;
}

/** A sensor reading (°C, MHz, %): whole numbers as they are ("76", "1,980"), others to three significant figures. */
export function fmtReading(x: unknown): string {
  if (typeof x === 'number' && Number.isInteger(x)) return x.toLocaleString('en-US');
  return fmtNum(x);
}

export function fmtStat(s: Stats | null | undefined, sig = 3): string {
  if (!s || s.n === 0) return DASH;
  return s.ci95HalfWidth !== null ? `${fmtNum(s.mean, sig)} ± ${fmtNum(s.ci95HalfWidth, 2)}` : fmtNum(s.mean, sig);
}

export function fmtRatio(r: number | null): string {
  return r === null || !Number.isFinite(r) ? DASH : `×${r >= 10 ? r.toFixed(1) : r.toFixed(2)}`;
}

export function fmtMs(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${fmtNum(x)} ms` : DASH;
}

export function fmtS(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${fmtNum(x)} s` : DASH;
}

export function fmtW(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${fmtNum(x)} W` : DASH;
}

export function fmtMiB(x: number | null | undefined): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return DASH;
  return x >= 1024 ? `${fmtNum(x / 1024)} GiB` : `${fmtNum(x)} MiB`;
}

/**
 * Markdown-safe text: HTML is neutralized (a device named `<script>` shows as text in any renderer), Markdown's
 * own syntax characters are backslash-escaped, and newlines become spaces so a name cannot break a table row.
 */
const MD_SPECIAL = /[&<>\\`*_[\]|#~\r\n]/;
const MD_REPLACE: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': ' ', '\n': ' ' };
export function mdEscape(s: string): string {
  // most strings (numbers, plain names) have nothing to escape: one test instead of a rebuilt string
  if (!MD_SPECIAL.test(s)) return s;
  return s.replace(/\r\n/g, '\n').replace(/[&<>\\`*_[\]|#~\r\n]/g, (c) => MD_REPLACE[c] ?? `\\${c}`);
}

/** A fence longer than any run of backticks in the text, so the text cannot close its own code block. */
export function mdFence(text: string): string {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return '`'.repeat(Math.max(3, longest + 1));
}

/**
 * One CSV cell (RFC 4180 quoting). Strings that a spreadsheet would run as a formula — a leading =, +, -, @,
 * tab or carriage return — get a leading apostrophe (OWASP's CSV-injection advice). Numbers are written as
 * numbers, so a negative figure stays a number.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  const s = String(v);
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
