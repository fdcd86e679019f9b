// A refusal budget per client address. A refused request (unknown terminal, not signed on, a MAC that does
// not verify, a merchant that is not the terminal's, a frame that cannot be parsed) costs the switch as much as
// a good one up to the refusal (a decode, a terminal lookup that for an unknown number reaches Postgres, a MAC
// check or two, an answer, a log line) and is charged to no terminal: its terminal number is whatever the
// client wrote. So a client cycling through terminal numbers escapes every terminal's budget, and one pipelining
// refused requests from 64 connections took good terminals from 3,125 to about 600 purchases/s.
//
// Each refusal takes a turn from its client address's budget (`ratePerS`, bursts of `burst`). Requests on the
// connections that are refusing pay their turn up front, before any work is done on them (not even the
// decode), and wait while the address owes turns, holding their in-flight slots but no CPU; the in-flight
// limits then stop reading that client. A connection is refusing:
// - for `suspectMs` after a refusal on it, and
// - while its address owes turns, until the switch trusts it (a MAC verified on it), so a client cannot shed
//   its debt by dialling again.
// A trusted connection that is not refused never waits here, whatever its address owes: good terminals behind
// the same address as a bad one (a NAT, a concentrator) keep their connections' speed. Refusals elsewhere are
// charged after the fact; the listener reads a connection it does not yet trust one request at a time, so a
// new connection costs at most one refusal before it counts as refusing.
import type { ConnectionInfo } from './server.js';
import { TokenBuckets } from './throttle.js';

/** What `admit` decided for one request: wait this long; its turn is already paid when `paid`. */
export interface Admission {
  readonly waitMs: number;
  readonly paid: boolean;
  /** The first wait of its address for `warnEveryMs`: worth a line in the log. */
  readonly warn?: boolean;
}

const free: Admission = { waitMs: 0, paid: false };

export class RefusalGuard {
  private readonly budget: TokenBuckets;
  /** When a request on each connection was last refused (the clock's ms). */
  private readonly refusedAt = new WeakMap<ConnectionInfo, number>();
  /** When each address last had a wait reported (warnEveryMs). */
  private readonly warned = new Map<string, number>();
  /** Requests that waited for their address's refusal budget, since start. */
  delayed = 0;

  constructor(
    readonly ratePerS: number,
    /**
     * Refusals at once: a tenth of a second's worth, at least a connection's pipeline (32). (A second's worth let
     * a flood's first moment through: 200 refused lookups, with one each for its 160 new connections, held the
     * good terminals' p99 near 130 ms for a second.)
     */
    readonly burst: number = Math.max(32, Math.ceil(ratePerS / 10)),
    readonly suspectMs = 1000,
    readonly warnEveryMs = 10_000,
    private readonly entriesMax = 100_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.budget = new TokenBuckets(ratePerS, burst, entriesMax, now);
  }

  /** Before any work on a request of `conn`: whether it pays a turn now, and how long it waits for it. */
  admit(conn: ConnectionInfo): Admission {
    const refusing = this.refusing(conn);
    if (!refusing && (conn.trusted || this.budget.left(conn.remote) >= 0)) return free;
    const waitMs = this.budget.take(conn.remote);
    if (waitMs <= 0) return { waitMs, paid: true };
    this.delayed++;
    return { waitMs, paid: true, warn: this.firstWait(conn.remote) };
  }

  /** A request of `conn` was refused (answered with a refusal, or its connection closed for it). */
  refuse(conn: ConnectionInfo, admission: Admission = free): void {
    if (!admission.paid) this.budget.take(conn.remote);
    this.refusedAt.set(conn, this.now());
  }

  /** `conn` had a request refused within `suspectMs`. */
  refusing(conn: ConnectionInfo): boolean {
    const at = this.refusedAt.get(conn);
    return at !== undefined && this.now() - at < this.suspectMs;
  }

  private firstWait(address: string): boolean {
    const t = this.now();
    const last = this.warned.get(address);
    if (last !== undefined && t - last < this.warnEveryMs) return false;
    if (this.warned.size >= this.entriesMax) this.warned.clear();
    this.warned.set(address, t);
    return true;
  }

  /** Turns `address` has left (below 0: it owes them). */
  left(address: string): number {
    return this.budget.left(address);
  }
}
