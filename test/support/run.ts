// `npm test`: start real Postgres and Redis once, make a migrated template database, run tap, stop the servers.
// Each test file clones the template (test/support/db.ts), so files run in parallel without sharing rows.
import { spawn } from 'node:child_process';
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

async function main(): Promise<number> {
  const servers = await startTestServers();
  process.stdout.write(`# test servers: ${servers.how}\n`);
  try {
    const admin = new pg.Client({ connectionString: servers.databaseUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase}`);
    await admin.query(`CREATE DATABASE ${templateDatabase}`);
    await admin.end();
    await migrate(withDatabase(servers.databaseUrl, templateDatabase), { quiet: true });
    const args = process.argv.slice(2);
    const child = spawn(process.execPath, [tapBin, ...args], { stdio: 'inherit', env: {
      ...process.env,
      POINTSWITCH_TEST_DATABASE_URL: servers.databaseUrl,
      POINTSWITCH_TEST_TEMPLATE: templateDatabase,
      POINTSWITCH_TEST_REDIS_URL: servers.redisUrl,
    } });
    return await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  } finally {
    await servers.stop();
  }
}


main().then(
  (code) => process.exit(code),
  (err) => { console.error(err); process.exit(1); },
);
