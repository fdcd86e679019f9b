// `npm run smoke:compose`: docker-compose.yml on this machine's Docker engine, checked end to end the way
// src/switch/README.md describes it: the stack builds and comes up healthy, the demo data seeds inside the switch's container,
// a swipe from this host is approved, a Redis outage is survived and shown on /health, a Postgres restart is shown
// (503) and then served again, and SIGTERM stops the switch with exit code 0. Then the stack and its volume are removed (COMPOSE_SMOKE_KEEP=1 leaves them up).
// It uses the file's fixed ports (8583, 8080), so a stack of the same file must not be running already.
// Not part of `npm test`: it needs an engine and the images (these machines have neither; src/switch/README.md, Running it).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const project = process.env.COMPOSE_SMOKE_PROJECT ?? 'pointswitch-smoke';
const adminUrl = 'http://127.0.0.1:8080';
/** The stack's key-encryption key, unless one is set: compose refuses to start the switch without one. */
const smokeKek = randomBytes(24).toString('hex');

type Row = { check: string; ok: boolean; detail: string };
const rows: Row[] = [];

function say(s: string): void { process.stderr.write(`smoke:compose: ${s}\n`); }

function run(cmd: string[], timeoutMs: number): { status: number | null; out: string } {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: root, encoding: 'utf8', timeout: timeoutMs, env: { POINTSWITCH_KEK: smokeKek, ...process.env } });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** `docker compose` (v2) if the engine's CLI has it, else `docker-compose` (v1), else null. */
function composeCommand(): string[] | null {
  if (run(['docker', 'compose', 'version'], 20_000).status === 0) return ['docker', 'compose'];
  if (run(['docker-compose', 'version'], 20_000).status === 0) return ['docker-compose'];
  return null;
}

async function health(): Promise<{ status: number; body: { redisUp?: boolean | null; databaseUp?: boolean } } | null> {
  try {
    const r = await fetch(`${adminUrl}/health`, { signal: AbortSignal.timeout(2000) });
    return { status: r.status, body: await r.json() as { redisUp?: boolean | null; databaseUp?: boolean } };
  } catch {
    return null;
  }
}

async function waitFor(what: string, seconds: number, cond: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  say(`gave up waiting ${seconds} s for ${what}`);
  return false;
}

function swipe(): { ok: boolean; detail: string } {
  const r = run([process.execPath, '--import', 'tsx', 'simulators/cli.ts', 'swipe', '--json', '--no-state'], 60_000);
  try {
    const j = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { responseCode?: string; macOk?: boolean; balancePoints?: number; latencyMs?: number };
    return { ok: j.responseCode === '00' && j.macOk === true, detail: `response ${j.responseCode}, answer MAC ${j.macOk ? 'verified' : 'NOT verified'}, balance ${j.balancePoints}, ${j.latencyMs} ms` };
  } catch {
    return { ok: false, detail: r.out.split('\n').slice(-2).join(' / ') };
  }
}

function record(check: string, ok: boolean, detail: string): boolean {
  rows.push({ check, ok, detail });
  say(`${ok ? 'ok  ' : 'FAIL'} ${check}: ${detail}`);
  return ok;
}

async function main(): Promise<number> {
  const compose = composeCommand();
  if (!compose) {
    say('neither `docker compose` nor `docker-compose` answers: install Docker (with Compose) and try again');
    return 2;
  }
  if (run(['docker', 'info'], 30_000).status !== 0) {
    say('no Docker engine answers (`docker info` failed): start it, or point DOCKER_HOST at one');
    return 2;
  }
  const c = (args: string[], timeoutMs = 120_000) => run([...compose, '-p', project, ...args], timeoutMs);
  say(`using ${compose.join(' ')}, project ${project}`);
  try {
    say('building and starting (the first build downloads the base images and runs npm ci: minutes)');
    const up = c(['up', '--build', '-d'], 30 * 60_000);
    if (!record('build and start', up.status === 0, up.status === 0 ? 'docker-compose.yml up' : up.out.split('\n').slice(-3).join(' / '))) return 1;
    const healthy = await waitFor('the switch\'s /health', 180, async () => (await health())?.status === 200);
    const h = await health();
    if (!record('switch healthy', healthy && h?.body.redisUp === true, `GET /health ${h?.status ?? 'no answer'}, redisUp ${h?.body.redisUp}`)) return 1;

    const seed = c(['exec', '-T', 'switch', 'node', 'dist/src/cli/main.js', 'seed', '--demo']);
    record('seed --demo in the container', seed.status === 0, seed.out.split('\n').filter((l) => /^(merchants|terminals|demo cards)/.test(l)).join('; ') || seed.out.slice(-200));

    const first = swipe();
    record('swipe from this host', first.ok, first.detail);

    const stopRedis = c(['stop', 'redis']);
    const down = stopRedis.status === 0 && await waitFor('/health to show Redis down', 30, async () => (await health())?.body.redisUp === false);
    const during = swipe();
    const hDuring = await health();
    record('Redis stopped: still serving', down && during.ok && hDuring?.status === 200, `${during.detail}; /health ${hDuring?.status}, redisUp ${hDuring?.body.redisUp}`);
    const startRedis = c(['start', 'redis']);
    const back = startRedis.status === 0 && await waitFor('/health to show Redis back', 60, async () => (await health())?.body.redisUp === true);
    record('Redis started again: used again', back, `redisUp ${(await health())?.body.redisUp}`);

    const stopPg = c(['stop', 'postgres'], 60_000);
    const pgDown = stopPg.status === 0 && await waitFor('/health to say 503', 30, async () => (await health())?.status === 503);
    const hDown = await health();
    record('Postgres stopped: /health 503', pgDown && hDown?.body.databaseUp === false, `/health ${hDown?.status}, databaseUp ${hDown?.body.databaseUp}`);
    const startPg = c(['start', 'postgres'], 60_000);
    const pgBack = startPg.status === 0 && await waitFor('/health to say 200 again', 90, async () => (await health())?.status === 200);
    const afterPg = pgBack ? swipe() : { ok: false, detail: 'not healthy again' };
    record('Postgres started again: served again', pgBack && afterPg.ok, afterPg.detail);

    const id = c(['ps', '-q', 'switch']).out.split('\n').pop()?.trim() ?? '';
    const stop = c(['stop', 'switch'], 60_000);
    const code = run(['docker', 'inspect', '-f', '{{.State.ExitCode}}', id], 20_000).out;
    record('SIGTERM stops the switch cleanly', stop.status === 0 && code === '0', `exit code ${code}`);
  } finally {
    if (process.env.COMPOSE_SMOKE_KEEP === '1') say(`left up (COMPOSE_SMOKE_KEEP=1): ${compose.join(' ')} -p ${project} down -v removes it`);
    else {
      const rm = c(['down', '-v'], 300_000);
      say(rm.status === 0 ? 'stack and volume removed' : `could not remove the stack: ${rm.out.slice(-200)}`);
    }
    const width = Math.max(...rows.map((r) => r.check.length), 5);
    process.stdout.write(`\n${'check'.padEnd(width)}  result  detail\n`);
    for (const r of rows) process.stdout.write(`${r.check.padEnd(width)}  ${r.ok ? 'ok    ' : 'FAILED'}  ${r.detail}\n`);
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}

main().then((code) => process.exit(code), (err: unknown) => {
  say(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
