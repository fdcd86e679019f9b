// Clients that are no terminal: connections stalled in the middle of a message, and a client flooding garbage,
// oversized and truncated frames. Raw sockets, since the simulator's Link frames and decodes honestly.
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { frame } from '../../protocol/index.js';

function connect(port: number, localAddress: string): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(null));
    s.on('error', () => {});
  });
}

export interface Stalled { opened: number; closedBySwitch: number; slowestCloseMs: number }

/**
 * `count` connections that each start a message and stop: half of them send the first bytes of a frame and then
 * nothing, the other half one byte a second (slowloris). Held until the switch closes them or `holdMs` passes.
 */
export async function stallConnections(port: number, count: number, holdMs: number, localAddress = '127.0.0.3'): Promise<Stalled> {
  const started = Date.now();
  const sockets = (await Promise.all(Array.from({ length: count }, () => connect(port, localAddress)))).filter((s): s is net.Socket => s !== null);
  const closedAt: number[] = [];
  const drips: NodeJS.Timeout[] = [];
  const done = sockets.map((s, i) => new Promise<void>((resolve) => {
    s.once('close', () => { closedAt.push(Date.now() - started); resolve(); });
    const body = frame(randomBytes(200));
    s.write(body.subarray(0, 7));
    if (i % 2 === 1) {
      let at = 7;
      drips.push(setInterval(() => { if (at < body.length - 1 && !s.destroyed) s.write(body.subarray(at, ++at)); }, 1000));
    }
  }));
  await Promise.race([Promise.all(done), new Promise((r) => setTimeout(r, holdMs))]);
  for (const d of drips) clearInterval(d);
  for (const s of sockets) s.destroy();
  return { opened: sockets.length, closedBySwitch: closedAt.length, slowestCloseMs: Math.max(0, ...closedAt) };
}

export interface Flooded { connections: number; frames: number; closedBySwitch: number; answers: number }

/** One hostile frame: framed noise, a length prefix far past any limit, a frame cut short, or unframed noise. */
function hostileFrame(): Buffer {
  switch (randomInt(4)) {
    case 0: return frame(randomBytes(randomInt(8, 600)));
    case 1: return Buffer.concat([Buffer.from([0xff, 0xff]), randomBytes(randomInt(1, 2000))]);
    case 2: { const f = frame(randomBytes(300)); return f.subarray(0, randomInt(3, f.length - 1)); }
    default: return randomBytes(randomInt(1, 4000));
  }
}

/** `connections` sockets from `localAddress` sending hostile frames for `seconds`, dialling again when closed. */
export async function floodGarbage(port: number, connections: number, seconds: number, localAddress = '127.0.0.2'): Promise<Flooded> {
  const until = Date.now() + seconds * 1000;
  const r: Flooded = { connections: 0, frames: 0, closedBySwitch: 0, answers: 0 };
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < until) {
      const s = await connect(port, localAddress);
      if (!s) { await new Promise((res) => setTimeout(res, 50)); continue; }
      r.connections++;
      s.on('data', () => { r.answers++; });
      const closed = new Promise<void>((res) => s.once('close', () => res()));
      let open = true;
      void closed.then(() => { open = false; });
      while (open && Date.now() < until) {
        s.write(hostileFrame());
        r.frames++;
        await Promise.race([closed, new Promise((res) => setTimeout(res, 5))]);
      }
      if (!open) r.closedBySwitch++;
      s.destroy();
    }
  }));
  return r;
}
