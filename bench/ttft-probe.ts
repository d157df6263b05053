// The reference for bench/serve-client.ts's TTFT-overhead table: the least a client can do to see a first token.
// One raw TCP connection (no HTTP library, no SSE or JSON parsing), one short request at a time to the paced fake
// server started with --stamp-ids, the first token stamped in the same 'data' callback that brings it. Run in its
// own process, so the load generator's event loop cannot delay it.
//
// Its overhead (TTFT − the server's own first-write − receive) is what loopback, the kernel's wake-ups and the
// server's HTTP stack cost on this machine at this load; the load generator's overhead minus this is what the
// load generator itself adds.
//
//   node --import tsx bench/ttft-probe.ts URL DURATION_S   → one JSON line per request: {"sentS","recvS","firstWriteS","firstS"}
import net from 'node:net';

const [urlArg, durationArg] = process.argv.slice(2);
const url = new URL(urlArg!);
const durationS = Number(durationArg ?? '10');
const nowS = () => Number(process.hrtime.bigint()) / 1e9;

const body = JSON.stringify({ model: 'probe', prompt: [1, 2, 3, 4], max_tokens: 2, stream: true, ignore_eos: true });
const request = Buffer.from(
  `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n` +
  `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`,
);
const STAMP = /cmpl-\d+-(\d+)-(\d+)/;
const END = '\r\n0\r\n\r\n'; // the last chunk of a chunked response

const socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true });
await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
socket.setEncoding('latin1');

const endS = nowS() + durationS;
let text = '', sentS = 0, firstS = 0, stamp: RegExpExecArray | null = null;
let finish!: () => void;

socket.on('data', (d: string) => {
  const t = nowS();
  text += d;
  if (!stamp) { stamp = STAMP.exec(text); if (stamp) firstS = t; }
  if (text.endsWith(END)) finish();
});

while (nowS() < endS) {
  text = ''; stamp = null;
  const done = new Promise<void>((resolve) => { finish = resolve; });
  sentS = nowS();
  socket.write(request);
  await done;
  if (stamp) {
    const s = stamp as RegExpExecArray;
    process.stdout.write(`${JSON.stringify({ sentS, recvS: Number(BigInt(s[1]!)) / 1e9, firstWriteS: Number(BigInt(s[2]!)) / 1e9, firstS })}\n`);
  }
  await new Promise((r) => setTimeout(r, 5 + Math.random() * 10)); // not in lockstep with the paced streams
}
socket.end();
