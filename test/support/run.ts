// `npm test`: start real Postgres and Redis once, make a migrated template database, run tap, stop the servers.
// Each test file clones the template (test/support/db.ts), so files run in parallel without sharing rows.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startTestServers } from './servers.js';
import { migrate } from '../../src/db/migrate.js';

const tapBin = path.resolve('node_modules/tap/dist/esm/run.mjs');
export const templateDatabase = 'pointswitch_test_template';

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A directory argument means the `*.test.ts` files below it, never its support modules. */
function expandTestPath(arg: string): string[] {
  if (arg.startsWith('-') || !existsSync(arg) || !statSync(arg).isDirectory()) return [arg];
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.test.ts')) found.push(p);
    }
  };
  walk(arg);
  return found.sort();
}

async function main(): Promise<number> {
  const servers = await startTestServers();
  process.stdout.write(`# test servers: ${servers.how}\n`);
  // Ctrl-C or a kill: stop tap, then the servers (and their scratch directory), instead of leaving them running.
  let child: ReturnType<typeof spawn> | null = null;
  const onSignal = (sig: 'SIGINT' | 'SIGTERM'): void => {
    process.stderr.write(`\n# ${sig}: stopping tap and the test servers\n`);
    child?.kill(sig);
    void servers.stop().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const admin = new pg.Client({ connectionString: servers.databaseUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase}`);
    await admin.query(`CREATE DATABASE ${templateDatabase}`);
    await admin.end();
    await migrate(withDatabase(servers.databaseUrl, templateDatabase), { quiet: true });
    const args = process.argv.slice(2).flatMap(expandTestPath);
    child = spawn(process.execPath, [tapBin, ...args], { stdio: ['inherit', 'pipe', 'inherit'], env: {
      ...process.env,
      POINTSWITCH_TEST_DATABASE_URL: servers.databaseUrl,
      POINTSWITCH_TEST_TEMPLATE: templateDatabase,
      POINTSWITCH_TEST_REDIS_URL: servers.redisUrl,
    } });
    // Pass tap's output through and remember its summary, `# { total: N, pass: N, fail: N, … }`.
    let tail = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4096);
    });
    const running = child;
    const code = await new Promise<number>((resolve) => running.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
    const summary = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?/.exec(tail);
    if (summary) {
      const [passed, failed, skipped] = [summary[2], summary[3], summary[4]].map((v) => Number(v ?? 0));
      process.stdout.write(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
    }
    return code;
  } finally {
    await servers.stop();
  }
}


main().then(
  (code) => process.exit(code),
  (err) => { console.error(err); process.exit(1); },
);
