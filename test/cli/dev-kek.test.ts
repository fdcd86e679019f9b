// Secrets at start: on a database other than the embedded default, `start` refuses the development key-encryption
// key (unset, or the development key given outright), says how to set one, and starts with a key of its own.
import t from 'tap';
import { devKekHex } from '../../src/ledger/kek.js';
import { testEnv } from '../support/db.js';
import { testKekHex } from '../support/kek.js';
import { spawnCli } from '../ledger/run-cli.js';

const startArgs = ['start', '--pos-port', '0', '--admin-port', '0', '--pos-host', '127.0.0.1', '--admin-host', '127.0.0.1', '--no-redis', '--log-level', 'info'];

t.test('start refuses the development key-encryption key on a database of its own, and says how to set one', async (t) => {
  const env = await testEnv(t);
  for (const kek of ['', devKekHex]) {
    const run = spawnCli(startArgs, { DATABASE_URL: env.databaseUrl, POINTSWITCH_KEK: kek });
    const { code } = await run.exited;
    t.not(code, 0, kek ? 'the development key given outright' : 'no key');
    t.match(run.output().stderr, /refusing to start with the development key-encryption key on a database other than the embedded default: set POINTSWITCH_KEK/);
    t.match(run.output().stderr, /openssl rand -hex 24/);
  }
  const good = spawnCli(startArgs, { DATABASE_URL: env.databaseUrl, POINTSWITCH_KEK: testKekHex });
  t.teardown(() => { if (good.child.exitCode === null) good.child.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${JSON.stringify(good.output())}`)), 30_000);
    const look = () => (/pointswitch listening/.test(good.output().stdout + good.output().stderr) ? (clearTimeout(timer), resolve()) : setTimeout(look, 50));
    look();
  });
  good.child.kill('SIGTERM');
  t.equal((await good.exited).code, 0, 'with a key of its own it starts, and stops cleanly');
});
