// No log line of the switch shows a secret: a fault-suite run (the short form, the faults that log the most:
// restarts, a database gone, a hostile client) keeps every switch's stdout and stderr, and every line is scanned
// for the run's card numbers, track data, PIN blocks, master, working and key-encryption keys and its API key.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { scanLines, type Secrets } from './scan.js';

t.setTimeout(900_000);

t.test('the scan finds each kind of secret it is given, and not a masked card number', async (t) => {
  const secrets: Secrets = {
    cardNumbers: ['8861000000000042'], trackData: ['8861000000000042D3012101'], pinBlocks: ['0123456789ABCDEF'],
    masterKeys: ['0123456789ABCDEFFEDCBA9876543210'], workingKeys: ['00112233445566778899AABBCCDDEEFF'], apiKeys: ['psk_live_abcdef'],
  };
  const lines = [
    '{"msg":"purchase","card":"886100******0042"}',
    '{"msg":"x","pan":"8861000000000042"}',
    '{"f35":"8861000000000042D3012101"}',
    '{"f52":"0123456789abcdef"}',
    '{"tmk":"0123456789ABCDEFFEDCBA9876543210"}',
    '{"mak":"00112233445566778899aabbccddeeff"}',
    '{"authorization":"Bearer psk_live_abcdef"}',
  ];
  const found = scanLines('fixture', lines, secrets);
  t.same([...new Set(found.map((l) => l.line))], [2, 3, 4, 5, 6, 7], 'every line but the masked one');
  t.same([...new Set(found.map((l) => l.kind))].sort(), ['apiKeys', 'cardNumbers', 'masterKeys', 'pinBlocks', 'trackData', 'workingKeys']);
  t.notMatch(JSON.stringify(found), /psk_live_abcdef|0123456789ABCDEFFEDCBA/, 'and the report does not repeat them');
});

t.test('no log line of a fault-suite run shows a card number, track data, a PIN block, a key or an API key', { timeout: 900_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-faults-logs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const logDir = path.join(dir, 'logs');
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/faults/suite.ts'), '--short', '--only', 'switch-kill,postgres-restart,hostile-flood', '--log-dir', logDir],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout.resume();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0, `the run passes${code === 0 ? '' : `: ${err.split('\n').slice(-20).join('\n')}`}`);
  t.ok(existsSync(path.join(logDir, 'secrets.json')), 'the run wrote what to look for');
  const secrets = JSON.parse(readFileSync(path.join(logDir, 'secrets.json'), 'utf8')) as Secrets;
  t.ok(secrets.workingKeys!.length > 0 && secrets.pinBlocks!.length > 0, `${secrets.workingKeys!.length} working keys and ${secrets.pinBlocks!.length} PIN blocks to look for`);
  const logs = readdirSync(logDir).filter((f) => f.endsWith('.log'));
  t.ok(logs.length > 0, `switch logs: ${logs.join(', ')}`);
  let lines = 0;
  for (const f of logs) {
    const text = readFileSync(path.join(logDir, f), 'utf8').split('\n');
    lines += text.length;
    const leaks = scanLines(f, text, secrets);
    t.same(leaks.slice(0, 5), [], `${f}: ${text.length} lines, no secret`);
  }
  t.ok(lines > 1000, `${lines} log lines scanned`);
});
