// The raw samples file (JSONL, one record a line) written beside each result as samples arrive, so an interrupted
// run keeps everything it sampled and an analysis can be redone from this file alone.
//   {"type":"sample","tS":1.234,"sourceId":"nvidia-smi","deviceId":"nvidia-smi:0","powerW":312.5,...}
//   {"type":"event","tS":2.5,"repetition":0,"event":"window_start"}
//   {"type":"gap","startS":3.1,"endS":4.0,"sourceId":"nvidia-smi","reason":"nvidia-smi exited (code 255)"}
//   {"type":"phase","tS":0,"phase":"idle"}
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface Sample {
  /** Run-clock seconds when the reading was taken (or received). */
  tS: number;
  sourceId: string;
  deviceId: string;
  powerW?: number;
  /** Cumulative energy counter reading, J (may wrap or reset). */
  energyJ?: number;
  temperatureC?: number;
  smClockMHz?: number;
  memClockMHz?: number;
  utilizationPct?: number;
  memoryUsedMiB?: number;
  /** Active throttle / clock-event reasons, decoded; empty when none. */
  throttleReasons?: string[];
}

export type SampleRecord =
  | ({ type: 'sample' } & Sample)
  | { type: 'event'; tS: number; repetition: number; event: string; data?: Record<string, unknown> }
  | { type: 'gap'; startS: number; endS: number; sourceId: string; deviceId?: string; reason: string }
  | { type: 'phase'; tS: number; phase: string; repetition?: number };

export class SampleLog {
  private stream: WriteStream;
  private closed = false;
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  records = 0;
  /** The first write error (a full disk): sampling goes on in memory; the run records that this file is incomplete. */
  error: string | undefined;
  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (err) => { this.error ??= err.message; }); // must not crash sampling
  }
  write(rec: SampleRecord): void {
    if (this.closed) return;
    this.records++;
    this.pending += JSON.stringify(rec) + '\n';
    // batch small writes, but never hold data for more than 200 ms
    if (this.pending.length > 64 * 1024) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), 200);
  }
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    if (this.pending) { this.stream.write(this.pending); this.pending = ''; }
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    // the last flush may be the one that fails (ENOSPC): end() hands that error to its callback, maybe before 'error'
    await new Promise<void>((resolve) => this.stream.end((err?: Error | null) => { if (err) this.error ??= err.message; resolve(); }));
  }
}

export async function readSampleLog(path: string): Promise<SampleRecord[]> {
  const text = await readFile(path, 'utf8');
  const out: SampleRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try { out.push(JSON.parse(line) as SampleRecord); } catch { /* a line cut by a crash: skip it */ }
  }
  return out;
}
