// The POS TCP listener: sockets, framing, limits and backpressure. It knows nothing of ISO 8583 fields; each
// complete frame body goes to `handleFrame`, and the answers go back in request order.
//
// Limits, each a configured number, so that one bad client cannot hurt the others:
// - frameBytesMax: a length prefix above it closes that connection (the de-framer reports it before buffering).
// - connectionsMax / connectionsPerAddressMax: more connections are refused at accept; at connectionsMax a
//   connection that was never trusted and is idle, refusing or only waiting for a budget is closed to make room
//   first.
// - inFlightPerConnectionMax: a connection is not read while that many of its requests are unanswered; until
//   the frame handler trusts it (a request on it carried a MAC that verified), while one is.
// - inFlightMax: no connection is read while the whole switch has that many unanswered (Postgres is slow).
// - inFlightPerAddressMax: connections from one remote address are not read while that address has that many
//   unanswered, so a client with many connections cannot take all of inFlightMax from the others.
//   Requests waiting for a refusal budget are set aside (ConnectionInfo.aside) and count against neither.
// - a client that does not read its answers stops being read (socket write buffer full).
// - idleTimeoutMs: no traffic and nothing in flight closes the connection; frameTimeoutMs: a started frame
//   must complete in time (a half message then a stall is closed even if the client trickles bytes).
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { Deframer } from '../../protocol/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { SwitchMetrics } from './metrics.js';
import { Sometimes } from './sometimes.js';

/** The listener's limits: the configuration's settings of the same names (src/config documents each). */
export type PosServerLimits = Pick<Config, 'frameBytesMax' | 'connectionsMax' | 'connectionsPerAddressMax'
  | 'inFlightPerConnectionMax' | 'inFlightMax' | 'inFlightPerAddressMax' | 'idleTimeoutMs' | 'frameTimeoutMs'>;

export interface ConnectionInfo {
  readonly id: number;
  readonly remote: string;
  /**
   * Whether the frame handler has trusted it. Until then its requests are taken one at a time, so a client that
   * has proved nothing cannot pipeline (refused requests, at the switch's cost); after, up to
   * inFlightPerConnectionMax at once.
   */
  readonly trusted: boolean;
  /** The frame handler's word that a request on it carried a MAC that verified (the terminal's keys). */
  trust(): void;
  /**
   * Runs `wait` (a request's wait for a refusal or sign-on budget) with the request set aside: meanwhile it does
   * not count against inFlightMax or inFlightPerAddressMax, which are for work under way, so clients keeping
   * such requests waiting from many addresses cannot stop the switch reading everyone else. It still holds its
   * connection's place (an untrusted connection has one), so that connection reads nothing more meanwhile; and
   * at connectionsMax an untrusted connection whose every request waits so may be closed for room.
   */
  aside<T>(wait: Promise<T>): Promise<T>;
}

/** The answer to one frame: bytes to write (without the length prefix), and/or close after writing. */
export interface FrameAnswer {
  body?: Buffer | undefined;
  close?: boolean | undefined;
}

export type FrameHandler = (body: Buffer, conn: ConnectionInfo) => Promise<FrameAnswer>;

export interface PosServerOptions {
  limits: PosServerLimits;
  handleFrame: FrameHandler;
  /**
   * Whether a connection is refusing (refused lately): at connectionsMax such a connection may be closed for room
   * even with requests in flight (they are refusals, or waiting for the refusal budget).
   */
  refusing?: (conn: ConnectionInfo) => boolean;
  /** Called when a frame could not be cut from the stream (bad or oversized length prefix). */
  onFramingError?: (kind: string, conn: ConnectionInfo) => void;
  log: Logger;
  metrics: SwitchMetrics;
}

interface Slot {
  done: boolean;
  answer: FrameAnswer;
}

export class PosServer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly perAddress = new Map<string, number>();
  private nextId = 1;
  /** Requests of all connections being processed (not those set aside). */
  inFlight = 0;
  /** Requests set aside, waiting for a refusal budget (ConnectionInfo.aside). */
  waitingForBudget = 0;
  /** Unanswered requests by remote address (inFlightPerAddressMax). */
  private readonly addressInFlight = new Map<string, number>();
  /** Connections waiting for `inFlight` to drop below inFlightMax, or their address's below inFlightPerAddressMax. */
  private readonly starved = new Set<Connection>();
  private stopping = false;
  /** Connections never trusted, oldest first (candidates to close at connectionsMax). */
  private readonly untrusted = new Set<Connection>();
  /** Warnings a client could repeat per connection: once per key every 10 s (logSometimes). */
  private readonly sometimes = new Sometimes();

  constructor(readonly options: PosServerOptions) {
    this.server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => options.log.error({ err }, 'POS listener error'));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port, host, backlog: 1024 }, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Open connections by remote address: how many, how many trusted, requests in flight (admin GET /clients). */
  clients(): Array<{ address: string; connections: number; trusted: number; inFlight: number }> {
    const by = new Map<string, { address: string; connections: number; trusted: number; inFlight: number }>();
    for (const c of this.connections) {
      const address = c.info.remote;
      let e = by.get(address);
      if (!e) {
        e = { address, connections: 0, trusted: 0, inFlight: this.addressInFlight.get(address) ?? 0 };
        by.set(address, e);
      }
      e.connections++;
      if (c.info.trusted) e.trusted++;
    }
    return [...by.values()];
  }

  private accept(socket: net.Socket): void {
    const { limits, metrics, log } = this.options;
    const remote = clientAddress(socket.remoteAddress);
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const fromAddress = this.perAddress.get(remote) ?? 0;
    const reason = fromAddress >= limits.connectionsPerAddressMax ? 'connections-per-address-max'
      : this.connections.size >= limits.connectionsMax && !this.evictUntrusted() ? 'connections-max' : null;
    if (reason) {
      metrics.connectionsRefused.inc({ reason });
      this.logSometimes(`${remote} ${reason}`, { remote, reason }, 'POS connection refused');
      socket.destroy();
      return;
    }
    this.perAddress.set(remote, fromAddress + 1);
    const conn = new Connection(this, socket, this.nextId++, remote);
    this.connections.add(conn);
    this.untrusted.add(conn);
    metrics.connectionsOpen.inc();
    socket.once('close', () => {
      this.connections.delete(conn);
      this.untrusted.delete(conn);
      this.starved.delete(conn);
      const n = (this.perAddress.get(remote) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(remote);
      else this.perAddress.set(remote, n);
      metrics.connectionsOpen.dec();
      conn.onClosed();
    });
  }

  /**
   * At connectionsMax: makes room by closing the longest-open connection that was never trusted and has nothing in
   * flight, or is refusing (of the oldest 64 such), so clients that hold connections without ever proving a
   * terminal's keys cannot keep good terminals out. Trusted connections are never closed for room, nor an
   * untrusted one whose request is being served (a terminal's first purchase, say). False: none to close.
   */
  private evictUntrusted(): boolean {
    let looked = 0;
    for (const c of this.untrusted) {
      if (looked++ >= 64) break;
      if (!c.idle && !c.onlyWaiting && !this.options.refusing?.(c.info)) continue;
      this.untrusted.delete(c);
      this.connections.delete(c);   // its 'close' comes later; its place is free now
      this.options.metrics.connectionsEvicted.inc();
      this.logSometimes(`${c.info.remote} evicted`, { remote: c.info.remote, conn: c.info.id }, 'POS connection closed to make room: at connectionsMax, never trusted, idle, refusing or only waiting for a budget');
      c.destroy();
      return true;
    }
    return false;
  }

  /** @internal a connection's request carried a MAC that verified: it is no longer a candidate for eviction. */
  trusted(conn: Connection): void {
    this.untrusted.delete(conn);
  }

  /**
   * A warning at most once per `key` every 10 s, with the count since the last one: a client dialling in a loop
   * must not fill the log (the metrics count each).
   */
  private logSometimes(key: string, fields: Record<string, unknown>, msg: string): void {
    const d = this.sometimes.due(key);
    if (d.due) this.options.log.warn({ ...fields, ...(d.leftOut !== undefined ? { sinceLastLine: d.leftOut } : {}) }, msg);
  }

  /** @internal a connection may start one more request now? */
  reserve(conn: Connection): boolean {
    const { inFlightMax, inFlightPerAddressMax } = this.options.limits;
    const remote = conn.info.remote;
    const ofAddress = this.addressInFlight.get(remote) ?? 0;
    if (this.inFlight >= inFlightMax || ofAddress >= inFlightPerAddressMax) {
      if (!this.starved.has(conn)) this.options.metrics.readsPaused.inc({ reason: this.inFlight >= inFlightMax ? 'in-flight-max' : 'in-flight-per-address-max' });
      this.starved.add(conn);
      return false;
    }
    this.inFlight++;
    this.addressInFlight.set(remote, ofAddress + 1);
    this.options.metrics.inFlight.inc();
    return true;
  }

  /** @internal a request of `conn` waits for a budget: it stops counting in flight until `takeBack`. */
  setAside(conn: Connection): void {
    this.waitingForBudget++;
    this.options.metrics.waitingForBudget.inc();
    this.release(conn);
  }

  /** @internal the request set aside goes on: it counts in flight again (past the limits if need be: it was admitted). */
  takeBack(conn: Connection): void {
    this.waitingForBudget--;
    this.options.metrics.waitingForBudget.dec();
    this.inFlight++;
    const remote = conn.info.remote;
    this.addressInFlight.set(remote, (this.addressInFlight.get(remote) ?? 0) + 1);
    this.options.metrics.inFlight.inc();
  }

  /** @internal a request of `conn` finished (or was set aside): wake connections that waited for capacity, oldest first. */
  release(conn: Connection): void {
    this.inFlight--;
    const remote = conn.info.remote;
    const left = (this.addressInFlight.get(remote) ?? 1) - 1;
    if (left <= 0) this.addressInFlight.delete(remote); else this.addressInFlight.set(remote, left);
    this.options.metrics.inFlight.dec();
    if (this.starved.size === 0) return;
    const { inFlightMax, inFlightPerAddressMax } = this.options.limits;
    for (const c of this.starved) {
      if (this.inFlight >= inFlightMax) break;
      // Its address is at its share: it waits for one of that address's own answers.
      if ((this.addressInFlight.get(c.info.remote) ?? 0) >= inFlightPerAddressMax) continue;
      this.starved.delete(c);
      c.pump();
    }
  }

  /**
   * Graceful stop: refuse new connections, stop reading, let every connection finish and write what is in
   * flight, then close. Connections still busy after `graceMs` are cut.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.connections) conn.finish();
    const deadline = Date.now() + graceMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.connections) conn.destroy();
    await closed;
  }
}

class Connection {
  private readonly deframer: Deframer;
  /** Frames read but not started (one TCP chunk can hold many). */
  private readonly backlog: Buffer[] = [];
  /** Started requests in arrival order; answers are written from the head only. */
  private readonly slots: Slot[] = [];
  private writeBlocked = false;
  private closing = false;
  private ending = false;
  private closed = false;
  private paused = false;
  private frameTimer: NodeJS.Timeout | undefined;
  /** Its requests set aside now, waiting for a budget. */
  private asideCount = 0;

  readonly info: ConnectionInfo;

  constructor(private readonly server: PosServer, private readonly socket: net.Socket, id: number, remote: string) {
    const { limits } = server.options;
    const info = {
      id, remote, trusted: false,
      trust: () => {
        if (info.trusted) return;
        info.trusted = true;
        server.trusted(this);
        queueMicrotask(() => this.pump());   // its backlog may start now
      },
      aside: async <T>(wait: Promise<T>): Promise<T> => {
        server.setAside(this);
        this.asideCount++;
        try {
          return await wait;
        } finally {
          this.asideCount--;
          server.takeBack(this);
        }
      },
    };
    this.info = info;
    this.deframer = new Deframer({ frameBytesMax: limits.frameBytesMax });
    socket.setTimeout(limits.idleTimeoutMs, () => {
      // Idle means idle on both sides: a client waiting for a slow answer is not idle.
      if (this.slots.length === 0 && this.backlog.length === 0) this.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.flow();
    });
    socket.on('error', () => { /* reset by peer etc.: 'close' follows */ });
    socket.on('end', () => {
      // The client half-closed: answer what it sent, then close our side.
      this.finish();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    const frames = this.deframer.push(chunk);
    for (const f of frames) {
      if (f.ok) this.backlog.push(f.body);
      else {
        this.server.options.metrics.framesRejected.inc({ reason: f.error.kind });
        this.server.options.log.warn({ conn: this.info.id, remote: this.info.remote, kind: f.error.kind }, 'unframeable input, closing connection');
        this.server.options.onFramingError?.(f.error.kind, this.info);
        // The stream cannot be resynchronised after a bad length: answer what came before, then close.
        this.finish();
        break;
      }
    }
    this.armFrameTimer();
    this.pump();
  }

  private armFrameTimer(): void {
    const partial = this.deframer.pendingBytes() > 0 && !this.closing && !this.paused;
    if (partial && !this.frameTimer) {
      this.frameTimer = setTimeout(() => {
        this.frameTimer = undefined;
        this.server.options.metrics.framesRejected.inc({ reason: 'frame-timeout' });
        this.server.options.log.warn({ conn: this.info.id, remote: this.info.remote }, 'message not completed in time, closing connection');
        this.destroy();
      }, this.server.options.limits.frameTimeoutMs);
      this.frameTimer.unref();
    } else if (!partial && this.frameTimer) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    }
  }

  /** Start backlog frames while the limits allow, then decide whether to keep reading. */
  pump(): void {
    const max = this.inFlightMax();
    while (this.backlog.length > 0 && this.slots.length < max && !this.closed) {
      if (!this.server.reserve(this)) break;
      this.start(this.backlog.shift()!);
    }
    if (this.closing && this.backlog.length === 0 && this.slots.length === 0) this.endSoon();
    this.flow();
  }

  private start(body: Buffer): void {
    const slot: Slot = { done: false, answer: {} };
    this.slots.push(slot);
    let settled: Promise<FrameAnswer>;
    try {
      settled = this.server.options.handleFrame(body, this.info);
    } catch (err) {
      settled = Promise.reject(err);
    }
    settled.then(
      (answer) => { slot.answer = answer; },
      (err: unknown) => {
        this.server.options.log.error({ err, conn: this.info.id }, 'request handler failed; closing connection');
        slot.answer = { close: true };
      },
    ).finally(() => {
      slot.done = true;
      this.server.release(this);
      this.flush();
      this.pump();
    });
  }

  /** Write answers from the head of the queue, in request order. */
  private flush(): void {
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const { answer } = this.slots.shift()!;
      if (this.closed) continue;
      if (answer.body) {
        const framed = Buffer.allocUnsafe(answer.body.length + 2);
        framed.writeUInt16BE(answer.body.length, 0);
        answer.body.copy(framed, 2);
        if (!this.socket.write(framed)) this.writeBlocked = true;
      }
      if (answer.close) {
        // Answers after a close are dropped: the terminal will reverse what it did not see answered.
        this.backlog.length = 0;
        this.finish();
      }
    }
  }

  /** Nothing in flight and nothing read waiting. */
  get idle(): boolean {
    return this.slots.length === 0 && this.backlog.length === 0;
  }

  /** Every request it has in flight waits for a budget (none being worked on). */
  get onlyWaiting(): boolean {
    if (this.asideCount === 0) return false;
    let working = 0;
    for (const x of this.slots) if (!x.done) working++;
    return this.asideCount === working;
  }

  /** Its own requests in flight at most: inFlightPerConnectionMax once trusted, one before. */
  private inFlightMax(): number {
    return this.info.trusted ? this.server.options.limits.inFlightPerConnectionMax : 1;
  }

  private flow(): void {
    if (this.closed) return;
    const max = this.inFlightMax();
    const shouldPause = this.closing || this.writeBlocked || this.backlog.length > 0 || this.slots.length >= max;
    if (shouldPause && !this.paused) {
      this.paused = true;
      this.socket.pause();
      if (!this.closing) {
        const reason = this.writeBlocked ? 'client-not-reading' : this.backlog.length > 0 && this.slots.length < max ? 'in-flight-max'
          : this.info.trusted ? 'in-flight-per-connection-max' : 'connection-not-trusted';
        this.server.options.metrics.readsPaused.inc({ reason });
      }
      this.armFrameTimer();
    } else if (!shouldPause && this.paused) {
      this.paused = false;
      this.socket.resume();
      this.armFrameTimer();
    }
  }

  /** Stop reading; answer what was read (in flight or in the backlog); then close. */
  finish(): void {
    if (this.closing) return;
    this.closing = true;
    this.pump();
  }

  private endSoon(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.socket.end();
    // A peer that never reads could keep the socket half-open forever.
    setTimeout(() => this.destroy(), 2000).unref();
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }

  onClosed(): void {
    this.closed = true;
    this.backlog.length = 0;
    if (this.frameTimer) clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
  }
}

/**
 * The client address the per-address limits and budgets are kept by: an IPv4 address as it is (an IPv4-mapped
 * IPv6 one as the IPv4 address), an IPv6 address as its /64, since one host is commonly given a whole /64 and
 * could otherwise take a fresh address for every connection and escape every per-address limit.
 */
export function clientAddress(remote: string | undefined): string {
  if (!remote || !ipaddr.isValid(remote)) return remote || 'unknown';
  const ip = ipaddr.parse(remote);
  if (ip.kind() === 'ipv4') return remote;
  const v6 = ip as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts.slice(0, 4).map((h) => h.toString(16)).join(':')}::/64`;
}
