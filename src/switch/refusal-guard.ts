// A refusal budget per client address. A refused request (unknown terminal, not signed on, a MAC that does
// not verify, a merchant that is not the terminal's, a frame that cannot be parsed) costs the switch as much as
// a good one up to the refusal (a decode, a terminal lookup that for an unknown number reaches Postgres, a MAC
// check or two, an answer, a log line) and is charged to no terminal: its terminal number is whatever the
// client wrote. So a client cycling through terminal numbers escapes every terminal's budget, and one pipelining
// refused requests from many connections took most of good terminals' throughput.
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
//
// A client with many addresses stays under each address's budget: 32 addresses at 200 refusals a second each
// cost the switch 6,400. So each refusal also takes a turn from one budget for the whole switch
// (`switchRatePerS`); while it owes, requests on refusing connections wait for it too, and so do untrusted
// connections from an address refused within `suspectMs` (a client cycling through connections). A connection
// from an address with no recent refusal does not wait for the switch's budget: a terminal dialling in during
// someone else's flood is served at once, and so is every trusted connection.
import type { ConnectionInfo } from './server.js';
import { Sometimes } from './sometimes.js';
import { AddressBudget, defaultBurst } from './throttle.js';

/** What `admit` decided for one request: wait this long; its turn is already paid when `paid`. */
export interface Admission {
  readonly waitMs: number;
  readonly paid: boolean;
  /** The first wait of its address (or, when the switch's budget holds it, of the switch) for `warnEveryMs`: worth a line in the log. */
  readonly warn?: boolean;
}

export interface RefusalGuardOptions {
  /**
   * Refusals at once from one address: a tenth of a second's worth, at least a connection's pipeline (32). (A
   * second's worth let a flood's first moment through: its refused lookups, with one for each new connection,
   * raised good terminals' latency for that second.)
   */
  burst?: number;
  /** Refusals a second the whole switch takes, from all addresses together; default none beyond the addresses'. */
  switchRatePerS?: number;
  /** Refusals at once for the whole switch: a tenth of a second's worth, at least 32. */
  switchBurst?: number;
  /** How long a refused connection (or address) stays suspect. */
  suspectMs?: number;
  warnEveryMs?: number;
  entriesMax?: number;
  now?: () => number;
}

const free: Admission = { waitMs: 0, paid: false };
const everyone = '';

export class RefusalGuard {
  readonly burst: number;
  readonly switchRatePerS: number | undefined;
  readonly suspectMs: number;
  private readonly entriesMax: number;
  private readonly now: () => number;
  private readonly budget: AddressBudget;
  /** When a request on each connection was last refused (the clock's ms). */
  private readonly refusedAt = new WeakMap<ConnectionInfo, number>();
  /** When a request from each address was last refused (only kept with a switch-wide budget). */
  private readonly addressRefusedAt = new Map<string, number>();
  /** When each address last had a wait reported (warnEveryMs). */
  private readonly warned: Sometimes;
  /** Requests that waited for a refusal budget (their address's or the switch's), since start. */
  delayed = 0;

  constructor(readonly ratePerS: number, o: RefusalGuardOptions = {}) {
    this.burst = o.burst ?? defaultBurst(ratePerS);
    this.suspectMs = o.suspectMs ?? 1000;
    this.entriesMax = o.entriesMax ?? 100_000;
    this.now = o.now ?? (() => performance.now());
    this.warned = new Sometimes(o.warnEveryMs ?? 10_000, this.entriesMax, this.now);
    this.switchRatePerS = o.switchRatePerS;
    this.budget = new AddressBudget(ratePerS, o.switchRatePerS, {
      burst: this.burst, entriesMax: this.entriesMax, now: this.now, ...(o.switchBurst ? { switchBurst: o.switchBurst } : {}),
    });
  }

  /** Before any work on a request of `conn`: whether it pays a turn now, and how long it waits for it. */
  admit(conn: ConnectionInfo): Admission {
    if (!this.refusing(conn) && (conn.trusted || (this.budget.left(conn.remote) >= 0 && !this.switchHolds(conn.remote)))) return free;
    const owes = this.budget.left(conn.remote) < 1;
    const waitMs = this.budget.take(conn.remote);
    if (waitMs <= 0) return { waitMs, paid: true };
    this.delayed++;
    // Reported once per owing address, or once for the whole switch when it is the switch's budget that holds.
    return { waitMs, paid: true, warn: this.firstWait(owes ? conn.remote : everyone) };
  }

  /** A request of `conn` was refused (answered with a refusal, or its connection closed for it). */
  refuse(conn: ConnectionInfo, admission: Admission = free): void {
    if (!admission.paid) this.budget.take(conn.remote);
    const t = this.now();
    this.refusedAt.set(conn, t);
    if (this.switchRatePerS !== undefined) {
      if (this.addressRefusedAt.size >= this.entriesMax) this.forgetAddresses(t);
      this.addressRefusedAt.set(conn.remote, t);
    }
  }

  /** `conn` had a request refused within `suspectMs`. */
  refusing(conn: ConnectionInfo): boolean {
    const at = this.refusedAt.get(conn);
    return at !== undefined && this.now() - at < this.suspectMs;
  }

  /** Turns `address` has left (below 0: it owes them). */
  left(address: string): number {
    return this.budget.left(address);
  }

  /** Turns the whole switch has left (below 0: owed); undefined without a switch-wide budget. */
  switchLeft(): number | undefined {
    return this.budget.switchLeft();
  }


  /** The switch owes refusal turns, and `address` was refused lately: its untrusted connections wait too. */
  private switchHolds(address: string): boolean {
    if ((this.budget.switchLeft() ?? 0) >= 0) return false;
    const at = this.addressRefusedAt.get(address);
    return at !== undefined && this.now() - at < this.suspectMs;
  }

  private forgetAddresses(t: number): void {
    for (const [address, at] of this.addressRefusedAt) if (t - at >= this.suspectMs) this.addressRefusedAt.delete(address);
    if (this.addressRefusedAt.size >= this.entriesMax) this.addressRefusedAt.clear();
  }

  private firstWait(key: string): boolean {
    return this.warned.due(key).due;
  }
}
