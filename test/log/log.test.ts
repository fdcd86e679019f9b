import { spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { censor, createLogger, redact } from '../../src/log.js';

/** A logger writing into an array of parsed lines. */
function capture(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level: 'info', destination }), lines };
}

const pan = '8860000000000007';

t.test('card numbers, tracks, PIN blocks and keys are censored at the top, one level down and in ISO fields', async (t) => {
  const { log, lines } = capture();
  const err = Object.assign(new Error('boom'), { pan });
  const line = {
    pan, cardNo: pan, card_no: pan, track2: `${pan}=2612`, pinBlock: 'A1B2C3D4E5F60718', mak: Buffer.alloc(16, 1),
    terminal: { id: '10000001', tmk: 'AB'.repeat(16), keys: { pik: 'x' } },
    fields: { 2: pan, 3: '000000', 35: `${pan}=2612`, 36: '99', 52: Buffer.alloc(8), 55: 'chip', 62: 'keys', 4: '000000000100' },
    err,
    card: '886000******0007',
  };
  const before = JSON.stringify(line);
  log.info(line, 'txn');
  const got = lines[0]!;
  t.equal(JSON.stringify(line), before, "the caller's object is not changed");
  for (const k of ['pan', 'cardNo', 'card_no', 'track2', 'pinBlock', 'mak']) t.equal(got[k], censor, `${k} censored`);
  t.same(got.terminal, { id: '10000001', tmk: censor, keys: censor }, 'one level down');
  t.same(got.fields, { 2: censor, 3: '000000', 35: censor, 36: censor, 52: censor, 55: censor, 62: censor, 4: '000000000100' },
    'ISO fields 2, 35, 36, 52, 55 and 62');
  t.match(got.err, { message: 'boom', pan: censor }, 'an error keeps its message, loses the card number');
  t.match(String((got.err as { stack?: string }).stack), /boom/, 'and keeps its stack');
  t.equal(got.card, '886000******0007', 'a masked card number stays');
  t.notOk(JSON.stringify(lines).includes(pan), 'the full card number appears nowhere');
});

t.test('a line with nothing to hide is written as given; child bindings are guarded too', async (t) => {
  const { log, lines } = capture();
  const plain = { terminal: '10000001', responseCode: '00', latencyMs: 1.5, nested: { a: 1 }, list: [1, 2] };
  t.equal(redact(plain), plain, 'nothing copied when nothing is sensitive');
  log.child({ component: 'pos', pan }).info(plain, 'txn');
  t.match(lines[0], { ...plain, component: 'pos', pan: censor, msg: 'txn' });
  t.notOk(JSON.stringify(lines).includes(pan));
});

t.test('buffered stdout: a lone line goes out within the delay; a burst goes out whole on stop', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/log/buffered-child.ts'), '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let loggedAt = -1, firstAt = -1;
  child.stderr.on('data', (d: Buffer) => { if (loggedAt < 0 && d.toString('utf8').includes('logged')) loggedAt = Date.now(); });
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    if (firstAt < 0 && out.includes('"first"')) firstAt = Date.now();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0);
  // The child logs its burst 1000 ms after the lone line: a line held for 4 KB would come out with it.
  t.ok(loggedAt > 0 && firstAt > 0 && firstAt - loggedAt < 700, `the lone line came out ${firstAt - loggedAt} ms after it was logged (delay 100 ms)`);
  const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { n: number });
  t.same(lines.map((l) => l.n), Array.from({ length: 101 }, (_, i) => i), 'every line, in order, none lost at exit');
});
