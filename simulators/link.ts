// One TCP connection to the switch: frames out, de-framed and decoded answers in, each answer matched to its
// request by trace (field 11), else to the oldest request waiting (an answer to garbage carries no trace).
// A request whose answer does not arrive within its timeout resolves as `timeout`; a late answer is counted.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { decode, Deframer, frame, isRequestMti, responseMti, type CodecError, type IsoMessage } from '../protocol/index.js';

export const frameBytesMax = 8192;
export const connectTimeoutMsDefault = 5000;

export type Answer =
  | { kind: 'answer'; message: IsoMessage; body: Buffer; latencyMs: number }
  | { kind: 'undecodable'; error: CodecError; body: Buffer | null; latencyMs: number }
  | { kind: 'timeout'; latencyMs: number }
  | { kind: 'closed'; latencyMs: number }
  /** The request was never sent: no connection to the switch (nothing to reverse). */
  | { kind: 'no-connection'; latencyMs: number; error: string };

interface Pending {
  trace: string | null;
  /** The answer's MTI (request MTI + 10), null for raw bytes. */
  answerMti: string | null;
  sentAt: number;
  timer: NodeJS.Timeout | null;
  resolve(a: Answer): void;
}

export class Link {
  private readonly pending: Pending[] = [];
  private readonly expiredTraces = new Map<string, number>();
  private readonly deframer = new Deframer({ frameBytesMax });
  private closedFlag = false;
  /** Answers that arrived after their request had timed out. */
  lateAnswers = 0;
  /** Answers that matched no request. */
  unmatchedAnswers = 0;
  /** Called with each late answer (the terminal model uses it to learn the outcome it gave up on). */
  onLateAnswer: ((message: IsoMessage) => void) | null = null;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.closedFlag = true;
        for (const p of this.pending.splice(0)) this.settle(p, { kind: 'closed', latencyMs: performance.now() - p.sentAt });
        resolve();
      });
    });
    socket.on('error', () => { /* surfaced as 'close' */ });
  }

  /** `localAddress`: connect from this address (a second loopback address stands for a second client). */
  static connect(host: string, port: number, connectTimeoutMs = connectTimeoutMsDefault, localAddress?: string): Promise<Link> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no connection to ${host}:${port} within ${connectTimeoutMs} ms`)); }, connectTimeoutMs);
      socket.once('connect', () => { clearTimeout(timer); socket.removeAllListeners('error'); resolve(new Link(socket)); });
      socket.once('error', (err) => { clearTimeout(timer); reject(new Error(`cannot connect to ${host}:${port}: ${err.message}`)); });
    });
  }

  get isClosed(): boolean { return this.closedFlag; }
  get inFlight(): number { return this.pending.length; }

  /** Frames `body`, sends it and waits up to `timeoutMs` for its answer. */
  request(body: Buffer, timeoutMs: number, trace: string | null = traceOf(body)): Promise<Answer> {
    return this.send(frame(body), timeoutMs, trace, answerMtiFor(body));
  }

  /** Sends bytes as they are (faults: garbage, truncated frames) and waits for whatever answer comes first. */
  requestRaw(bytes: Buffer, timeoutMs: number): Promise<Answer> {
    return this.send(bytes, timeoutMs, null, null);
  }

  private send(bytes: Buffer, timeoutMs: number, trace: string | null, answerMti: string | null): Promise<Answer> {
    return new Promise((resolve) => {
      const p: Pending = { trace, answerMti, sentAt: performance.now(), timer: null, resolve };
      if (this.closedFlag) { resolve({ kind: 'closed', latencyMs: 0 }); return; }
      this.pending.push(p);
      p.timer = setTimeout(() => {
        const i = this.pending.indexOf(p);
        if (i >= 0) this.pending.splice(i, 1);
        if (p.trace) this.expiredTraces.set(`${p.answerMti}:${p.trace}`, (this.expiredTraces.get(`${p.answerMti}:${p.trace}`) ?? 0) + 1);
        this.settle(p, { kind: 'timeout', latencyMs: performance.now() - p.sentAt });
      }, timeoutMs);
      this.socket.write(bytes);
    });
  }

  /** Writes bytes without waiting for anything. */
  write(bytes: Buffer): void {
    if (!this.closedFlag) this.socket.write(bytes);
  }

  /** Half-closes: no more bytes from us, the switch may still answer. */
  endWrites(): void { this.socket.end(); }

  close(): Promise<void> {
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 1000);
    return this.closed.then(() => clearTimeout(t));
  }

  destroy(): void { this.socket.destroy(); }

  private settle(p: Pending, a: Answer): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    p.resolve(a);
  }

  private onData(chunk: Buffer): void {
    for (const item of this.deframer.push(chunk)) {
      const now = performance.now();
      if (!item.ok) {
        const p = this.pending.shift();
        if (p) this.settle(p, { kind: 'undecodable', error: item.error, body: null, latencyMs: now - p.sentAt });
        else this.unmatchedAnswers++;
        this.socket.destroy();
        return;
      }
      const d = decode(item.body);
      if (!d.ok) {
        const p = this.pending.shift();
        if (p) this.settle(p, { kind: 'undecodable', error: d.error, body: item.body, latencyMs: now - p.sentAt });
        else this.unmatchedAnswers++;
        continue;
      }
      const trace = typeof d.message.fields[11] === 'string' ? d.message.fields[11] : null;
      const mti = d.message.mti;
      let i = trace ? this.pending.findIndex((p) => p.trace === trace && p.answerMti === mti) : -1;
      if (i < 0 && trace) {
        const key = `${mti}:${trace}`;
        const expired = this.expiredTraces.get(key);
        if (expired) {
          if (expired === 1) this.expiredTraces.delete(key); else this.expiredTraces.set(key, expired - 1);
          this.lateAnswers++;
          this.onLateAnswer?.(d.message);
          continue;
        }
      }
      if (i < 0 && trace) i = this.pending.findIndex((p) => p.trace === trace);
      if (i < 0) i = this.pending.findIndex((p) => p.trace === null);
      if (i < 0 && !trace) i = 0;
      const p = i >= 0 ? this.pending.splice(i, 1)[0] : undefined;
      if (p) this.settle(p, { kind: 'answer', message: d.message, body: item.body, latencyMs: now - p.sentAt });
      else this.unmatchedAnswers++;
    }
  }
}

/** The MTI of the answer to an encoded request: 0200 → 0210, 0400 → 0410, 0820 → 0830. */
export function answerMtiFor(body: Buffer): string | null {
  if (body.length < 13) return null;
  const mti = body.subarray(11, 13).toString('hex');
  return isRequestMti(mti) ? responseMti(mti) : null;
}

/** Field 11 of an encoded request, for matching its answer (decode is cheap next to a network round trip). */
export function traceOf(body: Buffer): string | null {
  const d = decode(body);
  if (!d.ok) return null;
  const t = d.message.fields[11];
  return typeof t === 'string' ? t : null;
}
