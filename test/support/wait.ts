// Small shared test helpers: wait for a condition, and a logger whose lines a test can read.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

/** Polls `cond` every 20 ms for up to 10 s; throws naming `what` when it never holds. */
export async function until(cond: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A pino logger at `level` whose output lines are collected in `lines`. */
export function capturedLog(level = 'warn'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(line);
      done();
    },
  });
  return { log: createLogger({ level, destination }), lines };
}

/**
 * Polls `cond` every 20 ms until it holds or `timeoutMs` passes, and returns either way: the assertion after it
 * then reports what it sees, instead of a fixed sleep that a slow machine outlasts.
 */
export async function settled(cond: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await cond()) && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
}
