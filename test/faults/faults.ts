// The faults, in the order the suite runs them. Each breaks something while the terminals keep working, puts it
// right (as an operator or a supervisor would), and may add checks of its own to the reconciliation's.
import path from 'node:path';
import { readOwner } from '../../src/process/owner.js';
import type { Fleet } from './fleet.js';
import { floodGarbage, stallConnections } from './hostile.js';
import type { Check } from './reconcile.js';
import type { Stack, SwitchProcess } from './stack.js';

export interface FaultContext {
  stack: Stack;
  fleet: Fleet;
  /** The switch the terminals use (the first one). */
  sw: SwitchProcess;
  short: boolean;
  log(s: string): void;
}

export interface Fault {
  name: string;
  says: string;
  /** Before the phase's terminals start (the two-switch fault starts its second switch here). */
  prepare?(c: FaultContext): Promise<void>;
  inject(c: FaultContext): Promise<Check[]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(sw: SwitchProcess, pattern: RegExp): Promise<boolean> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${sw.adminPort}/metrics`)).text();
    return pattern.test(text);
  } catch {
    return false;
  }
}

async function within(ms: number, cond: () => Promise<boolean>): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(250)) if (await cond()) return true;
  return false;
}

export const faults: Fault[] = [
  {
    name: 'switch-kill',
    says: 'the switch is killed with SIGKILL and started again',
    async inject({ sw }) {
      await sw.kill();
      await sw.start();
      return [];
    },
  },
  {
    name: 'machine-down',
    says: 'the switch, its PostgreSQL and its redis-server are killed at once (SIGKILL), then started again: PostgreSQL recovers from its WAL',
    async inject({ stack, sw }) {
      const redisPid = readOwner(path.join(stack.dir, 'redis', 'redis-server.owner'))?.server.pid;
      stack.killPostgres();
      if (redisPid) process.kill(redisPid, 'SIGKILL');
      await sw.kill();
      await stack.startPostgres();
      await stack.startRedis();
      await sw.start();
      return [];
    },
  },
  {
    name: 'postgres-restart',
    says: 'PostgreSQL is stopped under the running switch and started again',
    async inject({ stack, short }) {
      await stack.stopPostgres();
      await sleep(short ? 2000 : 5000);
      await stack.startPostgres();
      return [];
    },
  },
  {
    name: 'redis-stop',
    says: 'redis-server is stopped under the running switch and started again (empty)',
    async inject({ stack, sw, short }) {
      await stack.stopRedis();
      await sleep(short ? 3000 : 8000);
      const down = await metric(sw, /pointswitch_cache_up\{cache="redis"\} 0/);
      await stack.startRedis();
      const back = await within(30_000, () => metric(sw, /pointswitch_cache_up\{cache="redis"\} 1/));
      return [{ name: 'the switch saw Redis go and uses it again', ok: down && back, detail: `cache_up 0 while stopped: ${down}; 1 again within 30 s: ${back}` }];
    },
  },
  {
    name: 'stalled-connections',
    says: 'connections stop in the middle of a message (half of them dripping a byte a second) beside the terminals',
    async inject({ sw, stack, short }) {
      const frameTimeoutMs = stack.switchOptions.frameTimeoutMs;
      const s = await stallConnections(sw.posPort, short ? 20 : 100, frameTimeoutMs + 10_000);
      const ok = s.opened > 0 && s.closedBySwitch === s.opened && s.slowestCloseMs <= frameTimeoutMs + 5000;
      return [{ name: 'the switch closed every stalled connection', ok, detail: `${s.closedBySwitch} of ${s.opened} closed, the last after ${s.slowestCloseMs} ms (frame timeout ${frameTimeoutMs} ms)` }];
    },
  },
  {
    name: 'hostile-flood',
    says: 'a client floods garbage, oversized and truncated frames from another address beside the terminals',
    async inject({ sw, short }) {
      const f = await floodGarbage(sw.posPort, short ? 8 : 32, short ? 5 : 15);
      const alive = sw.running;
      return [{ name: 'the switch survived the flood', ok: alive && f.frames > 0, detail: `${f.frames} hostile frames on ${f.connections} connections, ${f.closedBySwitch} closed by the switch; switch running: ${alive}` }];
    },
  },
  {
    name: 'two-switches-kill-one',
    says: 'two switches share PostgreSQL and Redis, the terminals spread over both; one is killed with SIGKILL and its terminals dial the other',
    async prepare({ stack, fleet, sw }) {
      const b = stack.switches[1] ?? await stack.addSwitch('switch-b');
      if (!b.running) await b.start();
      await fleet.useSwitches([sw.posPort, b.posPort]);
    },
    async inject({ sw, stack }) {
      await sw.kill();
      const b = stack.switches[1]!;
      return [{ name: 'the other switch kept running', ok: b.running, detail: `switch-b running: ${b.running}` }];
    },
  },
];
