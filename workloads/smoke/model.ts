// A small decoder-only transformer over Float32Array with random weights: RMSNorm, rotary position embeddings,
// multi-head attention with a KV cache, SwiGLU MLP, greedy decoding. Real arithmetic of the same shape as an LLM's
// decode step, so the pipeline has honest work to measure on any machine. It is a smoke test, not a benchmark
// of anything but this code.

export interface SmokeModelShape { vocab: number; dModel: number; layers: number; heads: number; ffHidden: number; maxSeq: number }

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randMatrix(rows: number, cols: number, r: () => number): Float32Array {
  const m = new Float32Array(rows * cols);
  const scale = 1 / Math.sqrt(cols);
  for (let i = 0; i < m.length; i++) m[i] = (r() * 2 - 1) * scale;
  return m;
}

/** y = W x, W row-major rows × cols. */
function matvec(w: Float32Array, x: Float32Array, y: Float32Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) {
    let s = 0;
    const o = i * cols;
    for (let j = 0; j < cols; j++) s += w[o + j]! * x[j]!;
    y[i] = s;
  }
}

function rmsnorm(x: Float32Array, out: Float32Array): void {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
  const inv = 1 / Math.sqrt(ss / x.length + 1e-6);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * inv;
}

interface Layer { wq: Float32Array; wk: Float32Array; wv: Float32Array; wo: Float32Array; wGate: Float32Array; wUp: Float32Array; wDown: Float32Array; kCache: Float32Array; vCache: Float32Array }

export class SmokeModel {
  readonly parameters: number;
  private emb: Float32Array;
  private layers: Layer[];
  private x: Float32Array; private h: Float32Array; private q: Float32Array; private k: Float32Array; private v: Float32Array;
  private att: Float32Array; private ctx: Float32Array; private tmp: Float32Array; private g: Float32Array; private u: Float32Array; private logits: Float32Array;
  private headDim: number;

  constructor(readonly shape: SmokeModelShape, seed = 1) {
    const { vocab, dModel: d, layers, ffHidden: f, maxSeq } = shape;
    if (d % shape.heads !== 0) throw new Error('dModel must be divisible by heads');
    this.headDim = d / shape.heads;
    const r = rng(seed);
    this.emb = randMatrix(vocab, d, r); // tied input/output embedding
    this.layers = Array.from({ length: layers }, () => ({
      wq: randMatrix(d, d, r), wk: randMatrix(d, d, r), wv: randMatrix(d, d, r), wo: randMatrix(d, d, r),
      wGate: randMatrix(f, d, r), wUp: randMatrix(f, d, r), wDown: randMatrix(d, f, r),
      kCache: new Float32Array(maxSeq * d), vCache: new Float32Array(maxSeq * d),
    }));
    this.parameters = vocab * d + layers * (4 * d * d + 3 * d * f);
    this.x = new Float32Array(d); this.h = new Float32Array(d); this.q = new Float32Array(d); this.k = new Float32Array(d); this.v = new Float32Array(d);
    this.att = new Float32Array(maxSeq); this.ctx = new Float32Array(d); this.tmp = new Float32Array(d);
    this.g = new Float32Array(f); this.u = new Float32Array(f); this.logits = new Float32Array(vocab);
  }

  private rope(vec: Float32Array, pos: number): void {
    const hd = this.headDim;
    for (let h0 = 0; h0 < vec.length; h0 += hd) {
      for (let i = 0; i < hd; i += 2) {
        const theta = pos / Math.pow(10000, i / hd);
        const c = Math.cos(theta), s = Math.sin(theta);
        const a = vec[h0 + i]!, b = vec[h0 + i + 1]!;
        vec[h0 + i] = a * c - b * s;
        vec[h0 + i + 1] = a * s + b * c;
      }
    }
  }

  /** Feed one token at position pos (KV cache filled), return the greedy next token. */
  step(token: number, pos: number): number {
    const { dModel: d, ffHidden: f, heads, vocab } = this.shape;
    const hd = this.headDim;
    this.x.set(this.emb.subarray(token * d, token * d + d));
    for (const L of this.layers) {
      rmsnorm(this.x, this.h);
      matvec(L.wq, this.h, this.q, d, d); matvec(L.wk, this.h, this.k, d, d); matvec(L.wv, this.h, this.v, d, d);
      this.rope(this.q, pos); this.rope(this.k, pos);
      L.kCache.set(this.k, pos * d); L.vCache.set(this.v, pos * d);
      const scale = 1 / Math.sqrt(hd);
      for (let hh = 0; hh < heads; hh++) {
        const o = hh * hd;
        let mx = -Infinity;
        for (let t = 0; t <= pos; t++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += this.q[o + i]! * L.kCache[t * d + o + i]!;
          s *= scale; this.att[t] = s; if (s > mx) mx = s;
        }
        let z = 0;
        for (let t = 0; t <= pos; t++) { const e = Math.exp(this.att[t]! - mx); this.att[t] = e; z += e; }
        for (let i = 0; i < hd; i++) {
          let acc = 0;
          for (let t = 0; t <= pos; t++) acc += this.att[t]! * L.vCache[t * d + o + i]!;
          this.ctx[o + i] = acc / z;
        }
      }
      matvec(L.wo, this.ctx, this.tmp, d, d);
      for (let i = 0; i < d; i++) this.x[i] = this.x[i]! + this.tmp[i]!;
      rmsnorm(this.x, this.h);
      matvec(L.wGate, this.h, this.g, f, d); matvec(L.wUp, this.h, this.u, f, d);
      for (let i = 0; i < f; i++) { const a = this.g[i]!; this.g[i] = (a / (1 + Math.exp(-a))) * this.u[i]!; }
      matvec(L.wDown, this.g, this.tmp, d, f);
      for (let i = 0; i < d; i++) this.x[i] = this.x[i]! + this.tmp[i]!;
    }
    rmsnorm(this.x, this.h);
    matvec(this.emb, this.h, this.logits, vocab, d);
    let best = 0;
    for (let i = 1; i < vocab; i++) if (this.logits[i]! > this.logits[best]!) best = i;
    return best;
  }

  /** Prefill a prompt then generate n tokens greedily; returns the generated tokens. */
  generate(prompt: number[], n: number): number[] {
    if (prompt.length + n > this.shape.maxSeq) throw new Error('sequence longer than maxSeq');
    let next = 0;
    prompt.forEach((tok, pos) => { next = this.step(tok, pos); });
    const out: number[] = [];
    for (let i = 0; i < n; i++) { out.push(next); next = this.step(next, prompt.length + i); }
    return out;
  }
}
