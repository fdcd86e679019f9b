// The owner file: a server is an orphan only when it still runs and the process that started it does not, each
// checked by pid and start time, so a pid the kernel has given to another process since does not count.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { orphanIn, processId, stillRunning, thisProcess, writeOwner } from '../../src/process/owner.js';
import { stopIfOrphaned } from '../../src/process/servers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-owner-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function sleeper(t: { teardown(fn: () => void): void }) {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  t.teardown(() => { child.kill('SIGKILL'); });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
  return { id: processId(child.pid!)!, exited };
}

t.test('a process is still running only with the same pid and start time', async (t) => {
  const me = thisProcess();
  t.ok(stillRunning(me));
  if (me.startedAt !== null) t.notOk(stillRunning({ pid: me.pid, startedAt: String(Number(me.startedAt) + 1) }), 'the pid reused by another process is not it');
  const s = sleeper(t);
  process.kill(s.id.pid, 'SIGKILL');
  await s.exited;
  t.notOk(stillRunning(s.id), 'a process that ended');
});

t.test('a server whose owner runs is not an orphan; once the owner is gone it is, and is stopped', async (t) => {
  const file = path.join(dir, 'a.owner');
  const server = sleeper(t);
  const owner = sleeper(t);
  writeOwner(file, { owner: owner.id, server: server.id });
  t.equal(orphanIn(file), null, 'the owner runs: never disturbed');
  t.equal(orphanIn(path.join(dir, 'none.owner')), null, 'no owner file: not known to be an orphan');
  process.kill(owner.id.pid, 'SIGKILL');
  await owner.exited;
  t.equal(orphanIn(file, server.id.pid + 1), null, 'a server the file does not name is not touched');
  t.same(orphanIn(file)?.server, server.id, 'the owner gone: an orphan');
  t.equal(await stopIfOrphaned(file, 'test server', { signal: 'SIGTERM', thenSignal: 'SIGKILL', graceMs: 5000 }, () => {}), true);
  t.equal(await server.exited, 'SIGTERM', 'stopped by its clean signal');
  t.equal(orphanIn(file), null, 'and the owner file is gone');
});

t.test('the watchdog signals the server when its owner\'s pipe closes, and not after release', async (t) => {
  const watched = sleeper(t);
  const released = sleeper(t);
  // The owner here is a child Node, so that it can die while this test watches.
  const owner = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/process/watching-owner.ts'), JSON.stringify(watched.id), JSON.stringify(released.id)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { owner.kill('SIGKILL'); });
  await new Promise<void>((r) => owner.stdout!.once('data', () => r()));
  owner.kill('SIGKILL');
  t.equal(await watched.exited, 'SIGTERM', 'the watched server got its signal when the owner was killed');
  await new Promise((r) => setTimeout(r, 300));   // a wrong signal would have come with the other one
  t.ok(stillRunning(released.id), 'the released one did not');
});
