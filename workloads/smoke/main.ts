// Child-process entry of the smoke workload: generates sequences for a fixed time and speaks the event protocol.
// Runs in its own process so its arithmetic never starves the harness's samplers.
import { SmokeModel, rng } from './model.js';
import type { SmokeConfig } from '../smoke.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as SmokeConfig;
const emit = (e: object) => process.stdout.write(JSON.stringify(e) + '\n');

const model = new SmokeModel({ vocab: cfg.vocab, dModel: cfg.dModel, layers: cfg.layers, heads: cfg.heads, ffHidden: cfg.ffHidden, maxSeq: cfg.promptTokens + cfg.outputTokens }, cfg.seed);
const r = rng(cfg.seed + 1);
const prompt = () => Array.from({ length: cfg.promptTokens }, () => Math.floor(r() * cfg.vocab));
const now = () => performance.now() / 1000;

emit({ event: 'start', info: { parameters: model.parameters, workload: 'smoke' } });
emit({ event: 'warmup_start' });
const warmEnd = now() + cfg.warmupS;
while (now() < warmEnd) model.generate(prompt(), cfg.outputTokens);

emit({ event: 'window_start' });
const t0 = now();
let sequences = 0;
while (now() - t0 < cfg.durationS) {
  model.generate(prompt(), cfg.outputTokens);
  sequences++;
  emit({ event: 'tokens', tokens: cfg.outputTokens, input: cfg.promptTokens, output: cfg.outputTokens });
}
const el = now() - t0;
emit({ event: 'metric', name: 'sequences_per_s', value: sequences / el, unit: '1/s' });
emit({ event: 'window_end' });
