import { spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { censor, createLogger, isoTime, redact, writeTxnLine, type TxnLine } from '../../src/log.js';

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
  t.same(lines.map((l) => l.n), Array.from({ length: 102 }, (_, i) => i), 'every line, in order, and the one after stop');
});

t.test('buffered stdout: lines still waiting when the process exits are written by the exit hook', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/log/buffered-child.ts'), '10000', 'exit'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8'); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0);
  t.same(out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { n: number }).n), [0, 1, 2, 3, 4], 'all five lines, in order');
});

t.test('the transaction line is the line pino writes for the same fields, with the card masked', async (t) => {
  const { log, lines } = capture();
  const child = log.child({ component: 'pos' });
  const cases: TxnLine[] = [
    { conn: 7, terminal: '10000001', merchant: '898310048160001', mti: '0200', type: 'purchase', processingCode: '000000', trace: '000123', responseCode: '00', latencyMs: 3.17, cardNo: pan },
    // what garbage from the wire can put in a field: quotes, backslashes, controls, non-ASCII
    { conn: 8, terminal: 'a"b\\c', merchant: 'tab\there\u0001', mti: '0200', type: 'purchase', processingCode: '币种', trace: '12😀', responseCode: '30', latencyMs: 0.5, cardNo: undefined, reason: 'MAC does not verify' },
    // absent fields are left out, as pino leaves out undefined values; a number that is not finite is null
    { conn: 9, terminal: undefined, merchant: undefined, mti: '0800', type: 'sign-on', processingCode: undefined, trace: undefined, responseCode: 'none', latencyMs: Number.NaN, cardNo: '', reason: '' },
  ];
  for (const c of cases) {
    writeTxnLine(child, c);
    const { cardNo, reason, ...rest } = c;
    child.info({ ...rest, card: cardNo ? `${cardNo.slice(0, 6)}******${cardNo.slice(-4)}` : undefined, ...(reason ? { reason } : {}) }, 'txn');
  }
  t.equal(lines.length, cases.length * 2);
  for (let i = 0; i < cases.length; i++) {
    const [fast, viaPino] = [lines[2 * i]!, lines[2 * i + 1]!];
    delete fast.time;
    delete viaPino.time;
    t.same(Object.keys(fast), Object.keys(viaPino), `case ${i}: the same keys in the same order`);
    t.same(fast, viaPino, `case ${i}: the same values`);
  }
  t.equal(lines[0]!.card, '886000******0007', 'the card is masked');
  t.notOk(JSON.stringify(lines.filter((_, i) => i % 2 === 0)).includes(pan), 'the full card number appears nowhere');
});

t.test('a lone surrogate in a field is written as its JSON escape (pino writes it raw, which is not UTF-8)', async (t) => {
  let raw = '';
  const destination = new Writable({ write(chunk: Buffer, _enc, done) { raw += chunk.toString('utf8'); done(); } });
  writeTxnLine(createLogger({ level: 'info', destination }), {
    conn: 1, terminal: '10000001', merchant: undefined, mti: '0200', type: 'purchase', processingCode: undefined,
    trace: '\ud800x', responseCode: '30', latencyMs: 1, cardNo: undefined,
  });
  t.ok(raw.includes('"trace":"\\ud800x"'), raw);
  t.equal((JSON.parse(raw) as { trace: string }).trace, '\ud800x');
});

t.test('the log time is pino\'s ISO time, made once per millisecond', async (t) => {
  const a = isoTime();
  t.match(a, /^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
  t.equal(a.length, pino.stdTimeFunctions.isoTime().length, 'the shape pino writes');
  const at = Date.parse(a.slice(9, -1));
  t.ok(Math.abs(at - Date.now()) < 1000, 'and the time now');
  await new Promise((r) => setTimeout(r, 5));
  t.not(isoTime(), a, 'a later millisecond gets a new string');
});
