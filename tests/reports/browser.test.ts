// report.html in a real browser: Debian's Chromium driven by playwright-core (never a downloaded browser). No
// console errors, no network request of any kind, hostile names shown as text and never run, the matrix and every
// chart visible, print layout sane. Saves screenshots for a human to judge the design (path printed).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeResults, runServe, XSS_CHIP, XSS_SIZE } from './make-results.js';
import { startFakeServer } from '../serve/fake-server.js';
import { runCli, tempDir } from '../helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.log(`note: ${CHROMIUM} is absent; the browser test of report.html is skipped (CI installs Debian's chromium)`);

// where the screenshots go: WATTBENCH_SCREENSHOT_DIR, or a fixed folder under the temp dir
const SHOTS = process.env.WATTBENCH_SCREENSHOT_DIR ?? join(tmpdir(), 'wattbench-report-screenshots');

describe.skipIf(!HAVE_CHROMIUM)('report.html in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  let reportUrl: string;
  const consoleErrors: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    const made = await makeResults();
    // a serve sweep at two concurrencies, for the serving chart
    const server = await startFakeServer({ ttftMs: 20, tpotMs: 4 });
    const sweep = await tempDir('wb-report-browser-sweep-');
    try { expect(await runServe({ url: server.url, model: 'sweep-model', out: sweep, concurrency: '1,2' })).toHaveLength(2); } finally { await server.close(); }
    const out = join(await tempDir('wb-report-browser-'), 'report');
    const r = await runCli(['report', made.dir, sweep, '--out', out, '--title', 'Accelerator comparison', '--price-per-kwh', '0.15', '--carbon-g-per-kwh', '300']);
    expect(r.exitCode, r.stderr).toBe(0);
    reportUrl = pathToFileURL(join(out, 'report.html')).href;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    // the file itself is the only thing the page may load; anything else is recorded and refused
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url === reportUrl) return route.continue();
      requests.push(url);
      return route.abort();
    });
    await page.goto(reportUrl, { waitUntil: 'load' });
  }, 400_000);

  afterAll(async () => { await browser?.close(); });

  it('loads with no console error and no network request', () => {
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
  });

  it('shows hostile names as text and never runs them', async () => {
    expect(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();
    const matrixText = await page.locator('#matrix').innerText();
    expect(matrixText).toContain(XSS_CHIP);
    expect(matrixText).toContain(XSS_SIZE);
    // no element was created from the payloads
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1);
  });

  it('shows the matrix and every chart, each with a drawn SVG', async () => {
    await expect.poll(() => page.locator('#matrix').isVisible()).toBe(true);
    const charts = page.locator('figure.chart');
    const n = await charts.count();
    // efficiency + one scatter per column (3, and the serve column) + one power chart per run (6 + 2 serve) + the serving sweep
    expect(n).toBe(1 + (3 + 1) + (6 + 2) + 1);
    for (let i = 0; i < n; i++) {
      const fig = charts.nth(i);
      await fig.scrollIntoViewIfNeeded();
      expect(await fig.isVisible(), `chart ${i}`).toBe(true);
      const box = await fig.locator('svg').first().boundingBox();
      expect(box, `chart ${i} svg`).not.toBeNull();
      expect(box!.width).toBeGreaterThan(200);
      expect(box!.height).toBeGreaterThan(100);
      // something is drawn: marks, not only axes
      expect(await fig.locator('svg .role-mark path, svg .role-mark line').count(), `chart ${i} marks`).toBeGreaterThan(0);
    }
    for (const kind of ['efficiency', 'scatter', 'power', 'serving']) expect(await page.locator(`figure[data-chart="${kind}"]`).count()).toBeGreaterThan(0);
  });

  it('run details open on click and hold the workload config', async () => {
    const first = page.locator('details.run').first();
    expect(await first.locator('pre.config').isVisible()).toBe(false);
    await first.locator('summary').click();
    expect(await first.locator('pre.config').isVisible()).toBe(true);
    expect(await first.locator('pre.config').innerText()).toContain('"durationS"');
  });

  it('saves screenshots (screen, narrow screen, print) for a human to judge', async () => {
    await mkdir(SHOTS, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, 'report-top.png') });
    await page.screenshot({ path: join(SHOTS, 'report-full.png'), fullPage: true });
    await page.locator('#charts').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'report-charts.png') });
    const narrow = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const narrowErrors: string[] = [];
    narrow.on('pageerror', (e) => narrowErrors.push(String(e)));
    await narrow.goto(reportUrl);
    await narrow.screenshot({ path: join(SHOTS, 'report-narrow.png') });
    // the page itself must not scroll sideways on a phone; wide tables scroll inside their own box
    expect(await narrow.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390 + 1);
    expect(narrowErrors).toEqual([]);
    await narrow.close();
    // print: the navigation goes, run details open (beforeprint) and a PDF renders
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('nav.toc').isVisible()).toBe(false);
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    await page.emulateMedia({ media: 'screen' });
    for (const f of ['report-top.png', 'report-full.png', 'report-charts.png', 'report-narrow.png']) expect((await readFile(join(SHOTS, f))).length).toBeGreaterThan(10_000);
    console.log(`report screenshots: ${SHOTS}`);
  });
});
