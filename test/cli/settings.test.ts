// Every command reads its settings through src/config: from the environment and from its flags (flags win), and a
// bad value is refused with the same readable report and exit code 2 in every command, before anything is done.
import { Command } from 'commander';
import pg from 'pg';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { commandConfig } from '../../src/cli/settings.js';
import { Kek } from '../../src/ledger/kek.js';
import { cli, spawnCli } from '../ledger/run-cli.js';
import { testEnv } from '../support/db.js';

/** `pointswitch <args>` in this process with `env` as the whole environment; what it wrote and its exit code. */
async function inProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = process.env;
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
  process.env = { PATH: saved.PATH, ...env };
  process.stdout.write = ((chunk: string | Uint8Array) => { out.stdout += String(chunk); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => { out.stderr += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    return { code: await runCli(['node', 'pointswitch', ...args]), ...out };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.env = saved;
  }
}

const commands: Array<{ name: string; args: string[] }> = [
  { name: 'start', args: ['start'] },
  { name: 'migrate', args: ['migrate'] },
  { name: 'audit', args: ['audit'] },
  { name: 'seed', args: ['seed', '--demo'] },
];

t.test('a bad database URL, from the flag or from DATABASE_URL, is the same report and exit 2 in every command', async (t) => {
  const reports = new Set<string>();
  for (const c of commands) {
    const byFlag = await inProcess([...c.args, '--database-url', 'mysql://user:hunter2@h/db']);
    t.equal(byFlag.code, 2, `${c.name} --database-url: exit 2`);
    t.match(byFlag.stderr, /^pointswitch: invalid configuration \(1 problem\):\n {2}- databaseUrl from --database-url: must be a PostgreSQL URL: postgres:\/\//, c.name);
    t.notMatch(byFlag.stderr, /hunter2/, 'the password is not echoed');
    reports.add(byFlag.stderr);
    const byEnv = await inProcess(c.args, { DATABASE_URL: 'mysql://h/db' });
    t.equal(byEnv.code, 2, `${c.name} with DATABASE_URL: exit 2`);
    t.match(byEnv.stderr, /databaseUrl from DATABASE_URL: must be a PostgreSQL URL/, c.name);
  }
  t.equal(reports.size, 1, 'word for word the same in every command');
});

t.test('a bad KEK is refused the same way by start and seed, from the flag or POINTSWITCH_KEK, and never echoed', async (t) => {
  for (const args of [['start'], ['seed', '--demo']]) {
    const byFlag = await inProcess([...args, '--kek', 'not-a-key']);
    t.equal(byFlag.code, 2);
    t.match(byFlag.stderr, /invalid configuration \(1 problem\):\n {2}- kekHex from --kek: must be 32 or 48 hex digits/);
    const byEnv = await inProcess(args, { POINTSWITCH_KEK: '0011' });
    t.equal(byEnv.code, 2);
    t.match(byEnv.stderr, /kekHex from POINTSWITCH_KEK: must be 32 or 48 hex digits/);
    t.notMatch(byFlag.stderr + byEnv.stderr, /not-a-key|0011/);
  }
});

t.test('a command is refused only for the settings it uses: audit and migrate ignore a bad ADMIN_PORT', async (t) => {
  const r = await inProcess(['audit', '--database-url', 'mysql://h/db'], { ADMIN_PORT: 'eighty', LOG_LEVEL: 'chatty' });
  t.match(r.stderr, /\(1 problem\)/);
  t.notMatch(r.stderr, /adminPort|logLevel/);
  const start = await inProcess(['start', '--database-url', 'mysql://h/db'], { ADMIN_PORT: 'eighty' });
  t.match(start.stderr, /\(2 problems\)/, 'start uses both');
});

t.test('each command\'s help lists the flags of its settings with their environment variables', async (t) => {
  for (const [name, envs] of [['migrate', ['DATABASE_URL', 'POINTSWITCH_DATA_DIR']], ['audit', ['DATABASE_URL', 'POINTSWITCH_DATA_DIR']],
    ['seed', ['DATABASE_URL', 'POINTSWITCH_DATA_DIR', 'POINTSWITCH_KEK']], ['start', ['POS_PORT or PORT', 'POINTSWITCH_POOL_SIZE', 'POINTSWITCH_KEK']]] as const) {
    const r = await inProcess([name, '--help']);
    t.equal(r.code, 0);
    for (const env of envs) t.match(r.stdout, `[env ${env}]`, `${name} --help names ${env}`);
  }
});

t.test('commandConfig registers the flags of the settings named, reads env, lets a flag win, and reads --no- flags', async (t) => {
  const cmd = new Command('x').exitOverride();
  const configOf = commandConfig(cmd, ['dataDir', 'noRedis', 'poolSize']);
  let got: unknown;
  cmd.action((o: Record<string, unknown>) => { got = configOf(o, { POINTSWITCH_DATA_DIR: '/from/env', POINTSWITCH_POOL_SIZE: '7' }); });
  cmd.parse([], { from: 'user' });
  t.same(got, { dataDir: '/from/env', noRedis: false, poolSize: 7 });
  cmd.parse(['--data-dir', '/from/flag', '--no-redis'], { from: 'user' });
  t.same(got, { dataDir: '/from/flag', noRedis: true, poolSize: 7 });
  t.throws(() => cmd.parse(['--pos-port', '1'], { from: 'user' }), /unknown option/, 'only the settings named are flags');
});

t.test('audit, migrate and seed read DATABASE_URL from the environment, and their flag wins over it', async (t) => {
  const env = await testEnv(t);
  const unreachable = 'postgres://nobody:x@127.0.0.1:1/none';
  const audited = await spawnCli(['audit'], { DATABASE_URL: env.databaseUrl }).exited;
  t.equal(audited.code, 0, 'audit with DATABASE_URL');
  const flagWins = await spawnCli(['audit', '--database-url', env.databaseUrl], { DATABASE_URL: unreachable }).exited;
  t.equal(flagWins.code, 0, 'audit: --database-url wins over DATABASE_URL');
  const envUsed = await cli(['audit', '--database-url', unreachable]);
  t.equal(envUsed.code, 1, 'an unreachable URL given is tried and fails, never swapped for the embedded database');
  const migrated = spawnCli(['migrate'], { DATABASE_URL: env.databaseUrl });
  t.equal((await migrated.exited).code, 0, migrated.output().stderr);
  t.match(migrated.output().stdout, /up to date/);
  const seeded = spawnCli(['seed', '--demo'], { DATABASE_URL: env.databaseUrl });
  t.equal((await seeded.exited).code, 0, seeded.output().stderr);
  t.match(seeded.output().stdout, /demo cards\s+7\s+0/);
  t.match(seeded.output().stderr, /seed: POINTSWITCH_KEK is unset/, 'the development key is warned of');
});

t.test('seed takes the KEK from POINTSWITCH_KEK, and --kek wins over it', async (t) => {
  const envKek = 'A1'.repeat(32);   // 64 digits: an AES-256 key
  const flagKek = 'B2'.repeat(24);  // 48 digits: a triple-length 3DES key
  const pvvOf = async (url: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try { return (await c.query(`SELECT pin_verification FROM cards WHERE card_no = '8860000000000001'`)).rows[0].pin_verification as string; } finally { await c.end(); }
  };
  const one = await testEnv(t);
  const byEnv = spawnCli(['seed', '--demo'], { DATABASE_URL: one.databaseUrl, POINTSWITCH_KEK: envKek });
  t.equal((await byEnv.exited).code, 0, byEnv.output().stderr);
  t.notMatch(byEnv.output().stderr, /unset/, 'no dev-key warning');
  t.equal(await pvvOf(one.databaseUrl), new Kek(envKek).pinVerification('8860000000000001', '123456'));
  const two = await testEnv(t);
  const byFlag = spawnCli(['seed', '--demo', '--kek', flagKek, '--database-url', two.databaseUrl], { POINTSWITCH_KEK: envKek });
  t.equal((await byFlag.exited).code, 0, byFlag.output().stderr);
  t.equal(await pvvOf(two.databaseUrl), new Kek(flagKek).pinVerification('8860000000000001', '123456'));
});
