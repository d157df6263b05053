// An incremental server-sent-events parser (WHATWG HTML §9.2 "event stream interpretation"), fed decoded text
// in whatever pieces the socket delivers. Lines end with \n, \r\n or a lone \r; `data:` lines accumulate and an
// event is dispatched at the blank line that ends it; `:` lines are comments (keep-alive pings); `event:`, `id:`
// and `retry:` are known fields. Stricter than the spec in one way, on purpose: a non-empty line that is not one
// of those (the spec would treat it as an unknown field and ignore it) is reported as malformed, because from an
// OpenAI-compatible server it means a broken stream, and a benchmark must count that, not hide it.

export interface SseSink {
  /** One event's data (data lines joined with \n) and its event name ('' when none was given). */
  event(data: string, name: string): void;
  /** A line that is no SSE field. */
  malformed(line: string): void;
}

export class SseParser {
  private rest = '';
  private data: string | null = null;
  private name = '';
  /** A \r ended the previous piece: a \n at the start of the next piece belongs to it. */
  private pendingCr = false;

  constructor(private readonly sink: SseSink) {}

  push(text: string): void {
    if (text.length === 0) return;
    let s = text;
    if (this.pendingCr) { this.pendingCr = false; if (s.charCodeAt(0) === 10) s = s.slice(1); }
    if (this.rest) { s = this.rest + s; this.rest = ''; }
    let pos = 0;
    // a lone \r is rare; search for it once per piece instead of once per line
    let cr = s.indexOf('\r');
    const len = s.length;
    while (pos < len) {
      let nl = s.indexOf('\n', pos);
      if (cr !== -1 && cr < pos) cr = s.indexOf('\r', pos);
      let end: number, next: number;
      if (cr !== -1 && (nl === -1 || cr < nl)) {
        end = cr;
        if (cr + 1 < len) next = s.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
        else { next = len; this.pendingCr = true; }
      } else if (nl !== -1) {
        end = nl; next = nl + 1;
      } else break;
      this.line(s, pos, end);
      pos = next;
    }
    if (pos < len) this.rest = s.slice(pos);
  }

  /** The stream ended: a last line without its newline, and an event without its blank line, still count. */
  end(): void {
    if (this.rest) { const r = this.rest; this.rest = ''; this.line(r, 0, r.length); }
    this.dispatch();
  }

  private dispatch(): void {
    if (this.data !== null) { const d = this.data, n = this.name; this.data = null; this.name = ''; this.sink.event(d, n); }
    else this.name = '';
  }

  private line(s: string, start: number, end: number): void {
    if (end === start) { this.dispatch(); return; }
    const c0 = s.charCodeAt(start);
    if (c0 === 58 /* : */) return; // comment
    // fast path for the line every chunk has
    if (c0 === 100 /* d */ && s.startsWith('data:', start)) {
      const v = s.charCodeAt(start + 5) === 32 ? s.slice(start + 6, end) : s.slice(start + 5, end);
      this.data = this.data === null ? v : `${this.data}\n${v}`;
      return;
    }
    const colon = s.indexOf(':', start);
    const field = colon === -1 || colon > end ? s.slice(start, end) : s.slice(start, colon);
    let value = colon === -1 || colon > end ? '' : s.slice(colon + 1, end);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data': this.data = this.data === null ? value : `${this.data}\n${value}`; return;
      case 'event': this.name = value; return;
      case 'id': case 'retry': return;
      default: this.sink.malformed(s.slice(start, end));
    }
  }
}
