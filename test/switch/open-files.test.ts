// The connection limits fitted to the open-files limit: unit checks, then a switch started under `ulimit -n 400`
// that refuses a client's connections past its fitted share instead of running out of descriptors.
import { spawn } from 'node:child_process';
import { testKekHex } from '../support/kek.js';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { fitConnections, openFilesLimit, reservedFiles } from '../../src/switch/open-files.js';
import { testEnv } from '../support/db.js';
import { seed } from './support/app.js';
import { TestTerminal } from './support/terminal.js';
import { settled } from '../support/wait.js';

t.test('the open-files limit is read from /proc/self/limits', async (t) => {
  const limits = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units     \nMax processes             94            94            processes \nMax open files            ${soft}                20000                files     \n`;
  t.equal(openFilesLimit(() => limits('1024')), 1024);
  t.equal(openFilesLimit(() => limits('unlimited')), null, 'unlimited: nothing to fit');
  t.equal(openFilesLimit(() => 'no such line'), null);
  t.equal(openFilesLimit(() => { throw new Error('ENOENT'); }), null, 'not Linux: nothing to go by');
  const here = openFilesLimit();
  t.ok(here === null || here > 0, `this process: ${here}`);
});

t.test('the limits are kept when they fit, and lowered together when they do not', async (t) => {
  t.same(fitConnections(10_000, 2000, 20_000), { connectionsMax: 10_000, connectionsPerAddressMax: 2000 }, 'room enough: unchanged');
  t.same(fitConnections(10_000, 2000, null), { connectionsMax: 10_000, connectionsPerAddressMax: 2000 }, 'unknown: unchanged');
  t.same(fitConnections(10_000 - reservedFiles, 2000, 10_000), { connectionsMax: 10_000 - reservedFiles, connectionsPerAddressMax: 2000 }, 'exactly fits');
  const low = fitConnections(10_000, 2000, 1024);
  t.equal(low.connectionsMax, 1024 - reservedFiles, 'lowered to what the descriptors leave');
  t.equal(low.connectionsPerAddressMax, Math.floor(((1024 - reservedFiles) * 2000) / 10_000), 'one client keeps the same share (a fifth)');
  t.match(low.warning, /open-files limit \(1024\).*connectionsMax 10000 → 896.*ulimit -n/);
  t.same(fitConnections(10_000, 2000, 50), { connectionsMax: 1, connectionsPerAddressMax: 1, warning: fitConnections(10_000, 2000, 50).warning }, 'never below one');
});

t.test('a switch under a low open-files limit fits its connection limits, says so, and refuses past them instead of running out', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const cli = [process.execPath, '--import', 'tsx', path.resolve('test/ledger/cli-entry.ts'), 'start', '--pos-port', '0', '--admin-port', '0',
    '--pos-host', '127.0.0.1', '--admin-host', '127.0.0.1', '--no-redis', '--log-level', 'info'];
  // sh sets soft and hard limit alike, so Node cannot raise it.
  const child = spawn('/bin/sh', ['-c', 'ulimit -n 400 && exec "$@"', 'sh', ...cli], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: env.databaseUrl, POINTSWITCH_KEK: testKekHex } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const posPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 30_000);
    const look = () => {
      const m = /POS on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); } else setTimeout(look, 50);
    };
    look();
  });
  const fittedMax = 400 - reservedFiles;
  const perAddress = Math.floor((fittedMax * 2000) / 10_000);
  t.match(out, new RegExp(`open-files limit \\(400\\) leaves room for ${fittedMax} POS connections`), 'the log says what it lowered, and why');
  // One client opens 500 connections (more than the process has descriptors): all but its share are refused.
  const socks: net.Socket[] = [];
  t.teardown(() => { for (const s of socks) s.destroy(); });
  let closedByServer = 0;
  await Promise.all(Array.from({ length: 500 }, () => new Promise<void>((resolve) => {
    const s = net.connect({ port: posPort, host: '127.0.0.1', localAddress: '127.0.0.2' });
    socks.push(s);
    s.once('connect', () => resolve());
    s.once('error', () => resolve());
    s.once('close', () => { closedByServer++; });
  })));
  // However long the switch takes to close them, and to flush its buffered log line about it.
  await settled(() => 500 - closedByServer === perAddress && /POS connection refused/.test(out));
  t.equal(500 - closedByServer, perAddress, `the client keeps its share (${perAddress}) and the rest are closed`);
  const term = await TestTerminal.connect({ port: posPort });
  t.teardown(() => term.close());
  t.equal((await term.signOn()).fields[39], '00', 'another client is still served: descriptors were left for it and for Postgres');
  t.match(out, /"reason":"connections-per-address-max"/, 'the refusals are logged with their reason');
  t.equal((out.match(/POS connection refused/g) ?? []).length, 1, `once for ${500 - perAddress} refusals in 10 s: a client dialling in a loop does not fill the log`);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.equal(code, 0);
});
