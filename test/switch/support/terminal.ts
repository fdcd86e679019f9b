// A small POS terminal for the switch tests, built on protocol/ and the simulator's request builders: it frames, MACs, keeps its trace and
// batch, signs on (unwrapping the working keys with its TMK) and sends each transaction of the profile.
import net from 'node:net';
import {
  Deframer, decode, encode, encodeWithMac, encryptPinBlock, formatField60,
  frame, parseField60, parseSignOnKeys, type FieldValue, type IsoMessage, type MacAlgorithm,
} from '../../../protocol/index.js';
import * as sim from '../../../simulators/messages.js';

const traces = new Map<string, number>();

export const demoTmk = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');

export interface TerminalOptions {
  port: number;
  host?: string;
  /** The local address to connect from (a second loopback address stands for a second client). */
  localAddress?: string;
  terminalId?: string;
  merchantId?: string;
  tmk?: Buffer;
  macAlgorithm?: MacAlgorithm;
}

export class TestTerminal {
  readonly socket: net.Socket;
  terminalId: string;
  merchantId: string;
  tmk: Buffer;
  macAlgorithm: MacAlgorithm;
  mak: Buffer | null = null;
  pik: Buffer | null = null;
  batchNo = '000001';
  private readonly deframer = new Deframer({ frameBytesMax: 65535 });
  private readonly waiting: Array<{ resolve: (m: IsoMessage) => void; reject: (e: Error) => void }> = [];
  readonly received: IsoMessage[] = [];
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(socket: net.Socket, o: TerminalOptions) {
    this.socket = socket;
    this.terminalId = o.terminalId ?? '10000001';
    this.merchantId = o.merchantId ?? '898310048160001';
    this.tmk = o.tmk ?? demoTmk;
    this.macAlgorithm = o.macAlgorithm ?? 'ecb';
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.deframer.push(chunk)) {
        if (!f.ok) throw new Error(`switch sent an unframeable answer: ${f.error.message}`);
        const d = decode(f.body);
        if (!d.ok) throw new Error(`switch sent an undecodable answer: ${d.error.message}`);
        this.received.push(d.message);
        this.waiting.shift()?.resolve(d.message);
      }
    });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true;
      for (const w of this.waiting.splice(0)) w.reject(new Error('connection closed before an answer'));
      resolve();
    }));
    socket.on('error', () => {});
  }

  static connect(o: TerminalOptions): Promise<TestTerminal> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: o.port, host: o.host ?? '127.0.0.1', ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
      socket.once('connect', () => resolve(new TestTerminal(socket, o)));
      socket.once('error', reject);
    });
  }

  /** Traces continue per terminal id across TestTerminal objects, as a real terminal keeps its counter. */
  nextTrace(): string {
    const n = ((traces.get(this.terminalId) ?? 0) % 999999) + 1;
    traces.set(this.terminalId, n);
    return String(n).padStart(6, '0');
  }

  /** The next answer, whatever it answers. */
  nextAnswer(): Promise<IsoMessage> {
    return new Promise((resolve, reject) => {
      if (this.isClosed) reject(new Error('connection closed'));
      else this.waiting.push({ resolve, reject });
    });
  }

  /** Frame, send and wait for the answer. */
  async send(msg: IsoMessage, opts: { mac?: boolean } = {}): Promise<IsoMessage> {
    const answer = this.nextAnswer();
    this.socket.write(frame(this.encodeMessage(msg, opts)));
    return answer;
  }

  encodeMessage(msg: IsoMessage, opts: { mac?: boolean } = {}): Buffer {
    const useMac = opts.mac ?? (this.mak !== null && msg.mti !== '0800');
    return useMac && this.mak ? encodeWithMac(msg, this.macAlgorithm, this.mak) : encode(msg);
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** A message of our own making: local time and date (12, 13), terminal and merchant (41, 42), then `fields`. */
  message(mti: string, fields: { [n: number]: FieldValue | undefined }): IsoMessage {
    return this.stamped({
      tpdu: sim.tpduDefault, header: sim.headerDefault, mti, fields: { 41: this.terminalId, 42: this.merchantId, ...fields },
    });
  }

  /** The simulator's builders make every request (one description of the POS set); this adds local time/date. */
  private stamped(msg: IsoMessage): IsoMessage {
    const now = new Date();
    const p2 = (n: number) => String(n).padStart(2, '0');
    msg.fields[12] = `${p2(now.getHours())}${p2(now.getMinutes())}${p2(now.getSeconds())}`;
    msg.fields[13] = `${p2(now.getMonth() + 1)}${p2(now.getDate())}`;
    return msg;
  }

  private context(trace = this.nextTrace()): sim.MessageContext {
    return { terminalId: this.terminalId, merchantId: this.merchantId, trace, batchNo: this.batchNo };
  }

  private card(cardNo: string, o: { pin?: string; expiry?: string | null }): sim.CardData {
    return { cardNo, expiry: o.expiry ?? null, pinBlock: o.pin ? encryptPinBlock(o.pin, cardNo, this.pik!) : null };
  }

  signOnMessage(netMgmtCode = '003'): IsoMessage {
    const request = sim.signOn(this.context());
    request.fields[60] = formatField60({ txnType: '00', batchNo: this.batchNo, netMgmtCode });
    return this.stamped(request);
  }

  async signOn(netMgmtCode = '003'): Promise<IsoMessage> {
    const answer = await this.send(this.signOnMessage(netMgmtCode), { mac: false });
    if (answer.fields[39] === '00') {
      const keys = parseSignOnKeys(answer.fields[62] as Buffer, this.tmk);
      if (!keys) throw new Error('sign-on keys failed their check values');
      this.mak = keys.mak;
      this.pik = keys.pik;
      const f60 = answer.fields[60];
      if (typeof f60 === 'string') this.batchNo = parseField60(f60).batchNo;
    }
    return answer;
  }

  signOffMessage(): IsoMessage {
    return this.stamped(sim.signOff(this.context()));
  }

  purchaseMessage(cardNo: string, amountFen: number, o: { pin?: string; trace?: string; expiry?: string } = {}): IsoMessage {
    return this.stamped(sim.purchase(this.context(o.trace), this.card(cardNo, { ...o, expiry: o.expiry ?? '3012' }), amountFen));
  }

  balanceMessage(cardNo: string, o: { pin?: string } = {}): IsoMessage {
    return this.stamped(sim.balance(this.context(), this.card(cardNo, o)));
  }

  voidMessage(cardNo: string, amountFen: number, original: { rrn: string; trace: string; batchNo?: string }): IsoMessage {
    return this.stamped(sim.voidPurchase(this.context(), this.card(cardNo, {}), amountFen,
      { rrn: original.rrn, trace: original.trace, batchNo: original.batchNo ?? this.batchNo }));
  }

  refundMessage(cardNo: string, amountFen: number, original: { rrn: string; trace?: string; batchNo?: string; date?: string }): IsoMessage {
    return this.stamped(sim.refund(this.context(), this.card(cardNo, {}), amountFen, {
      rrn: original.rrn, batchNo: original.batchNo ?? '000000', trace: original.trace ?? '000000', date: original.date ?? null,
    }));
  }

  /** The reversal of a request: the same fields, MTI 0400, 39 = reason (98: no answer received). */
  reversalMessage(original: IsoMessage, reason = '98'): IsoMessage {
    return sim.reversal(original, reason);
  }

  batchCloseMessage(totals: sim.BatchTotals): IsoMessage {
    return this.stamped(sim.batchClose(this.context(), totals));
  }

  uploadMessage(cardNo: string, amountFen: number, trace: string): IsoMessage {
    return this.stamped(sim.upload(this.context(), cardNo, amountFen, { trace, kind: 'purchase' }));
  }

  close(): Promise<void> {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 500).unref();
    return this.closed;
  }
}
