// Bad input and bad clients: the process goes on, and other terminals are served.
import net from 'node:net';
import pg from 'pg';
import t from 'tap';
import { encode, frame } from '../../protocol/index.js';
import { testEnv } from '../support/db.js';
import { balanceOf, seed, startSwitch } from './support/app.js';
import { TestTerminal } from './support/terminal.js';
import { adminCaller } from '../admin/support.js';
import { lockWaits } from '../support/locks.js';
import { settled } from '../support/wait.js';

const diamond = '8860000000000007';

function raw(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Another transaction holds the card's row (as a slow Postgres would): its debits wait until `release()`. */
async function holdCard(t: { teardown(fn: () => unknown): void }, databaseUrl: string, cardNo: string): Promise<() => Promise<void>> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  t.teardown(() => c.end());
  await c.query('BEGIN');
  await c.query('SELECT 1 FROM cards WHERE card_no = $1 FOR UPDATE', [cardNo]);
  return async () => { await c.query('COMMIT'); };
}

function closedBy(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('error', () => {});
  return new Promise((resolve) => s.once('close', () => resolve(Buffer.concat(chunks))));
}

/** Writes `msgs` at once (pipelined) and waits for all their answers. */
function pipelined(term: TestTerminal, msgs: ReturnType<TestTerminal['balanceMessage']>[]): Promise<Awaited<ReturnType<TestTerminal['nextAnswer']>>[]> {
  const answers = Promise.all(msgs.map(() => term.nextAnswer()));
  term.writeRaw(Buffer.concat(msgs.map((m) => frame(term.encodeMessage(m)))));
  return answers;
}

t.test('bad input and bad clients', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { idleTimeoutMs: 1500, frameTimeoutMs: 400, inFlightPerConnectionMax: 2 });
  const good = await TestTerminal.connect({ port: app.posPort });
  t.teardown(() => good.close());
  await good.signOn();
  const stillServes = async () => (await good.send(good.purchaseMessage(diamond, 100))).fields[39];

  await t.test('garbage bytes close that connection; others are served', async (t) => {
    const s = await raw(app.posPort);
    const closed = closedBy(s);
    s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    const answered = await closed;
    t.equal(answered.length, 0, 'nothing answered');
    t.equal(await stillServes(), '00');
  });

  await t.test('a length prefix of 65535 closes that connection without buffering it', async (t) => {
    const s = await raw(app.posPort);
    const closed = closedBy(s);
    s.write(Buffer.from([0xff, 0xff, 0x60, 0x00, 0x03]));
    await closed;
    t.pass('closed');
    t.equal(await stillServes(), '00');
  });

  await t.test('a frame with a readable header and MTI but broken fields is answered 30, and the connection goes on', async (t) => {
    const term = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002' });
    t.teardown(() => term.close());
    const body = encode(term.purchaseMessage(diamond, 100));
    const broken = Buffer.concat([body.subarray(0, 30)]); // cut inside the fields, framed as if complete
    const answer = term.nextAnswer();
    term.writeRaw(frame(broken));
    const a = await answer;
    t.equal(a.mti, '0210');
    t.equal(a.fields[39], '30');
    t.equal(a.tpdu.destination, '0000');
    const on = await term.signOn();
    t.equal(on.fields[39], '00', 'the same connection is still served');
  });

  await t.test('random bytes inside a valid length prefix never crash the switch', async (t) => {
    let seed = 42;
    const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed & 0xff; };
    for (let i = 0; i < 50; i++) {
      const s = await raw(app.posPort);
      const closed = closedBy(s);
      const len = 14 + (rand() % 120);
      const body = Buffer.from(Array.from({ length: len }, rand));
      if (i % 2 === 0) body.set([0x60, 0x00, 0x03, 0x00, 0x00, 0x60, 0x31, 0x00, 0x31, 0x01, 0x00, 0x02, 0x00], 0);
      s.end(frame(body));
      await closed;
    }
    t.equal(await stillServes(), '00');
    const m = await app.admin.inject({ method: 'GET', url: '/metrics' });
    t.match(m.body, /pointswitch_frames_rejected_total\{reason="[a-z-]+"\} \d+/, 'rejected frames are counted');
  });

  await t.test('half a message then a stall is closed by the frame timeout while others are served', async (t) => {
    const s = await raw(app.posPort);
    const closed = closedBy(s);
    const full = frame(encode(good.purchaseMessage(diamond, 100)));
    s.write(full.subarray(0, 20));
    t.equal(await stillServes(), '00', 'served during the stall');
    await closed;
    t.pass('the stalled connection was closed');
    t.equal(await stillServes(), '00');
  });

  await t.test('a connection that sends nothing is closed by the idle timeout', async (t) => {
    const s = await raw(app.posPort);
    await closedBy(s);
    t.pass('closed');
  });

  await t.test('pipelined requests beyond the in-flight limit are all answered, in order', async (t) => {
    const term = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002' });
    t.teardown(() => term.close());
    await term.signOn();
    const msgs = Array.from({ length: 12 }, (_, i) => i % 3 === 0 ? term.balanceMessage(diamond) : term.purchaseMessage(diamond, 100 + i));
    const answers = Promise.all(msgs.map(() => term.nextAnswer()));
    term.writeRaw(Buffer.concat(msgs.map((m) => frame(term.encodeMessage(m)))));
    const got = await answers;
    t.same(got.map((a) => a.fields[11]), msgs.map((m) => m.fields[11]), 'answers in request order');
    t.ok(got.every((a) => a.fields[39] === '00'));
  });

  await t.test('more connections from one address than allowed are refused; others still connect', async (t) => {
    const env2 = await testEnv(t);
    await seed(env2);
    const small = await startSwitch(t, env2, { connectionsPerAddressMax: 3 });
    const held = await Promise.all([0, 1, 2].map(() => raw(small.posPort)));
    const extra = await raw(small.posPort);
    await closedBy(extra);
    t.pass('the fourth was closed at once');
    for (const s of held) s.destroy();
    await settled(() => small.pos.connectionCount === 0);
    const term = await TestTerminal.connect({ port: small.posPort });
    t.teardown(() => term.close());
    t.equal((await term.signOn()).fields[39], '00', 'a slot freed is usable again');
  });
});

t.test('graceful stop answers what is in flight, then closes and refuses new connections', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const term = await TestTerminal.connect({ port: app.posPort });
  await term.signOn();
  const msgs = Array.from({ length: 5 }, (_, i) => term.purchaseMessage(diamond, 200 + i));
  const answers = Promise.all(msgs.map(() => term.nextAnswer()));
  term.writeRaw(Buffer.concat(msgs.map((m) => frame(term.encodeMessage(m)))));
  // Stop once the switch has read them (they arrive as one chunk) and is working on them.
  while (app.pos.inFlight === 0) await new Promise((r) => setImmediate(r));
  const stopped = app.stop();
  const got = await answers;
  t.ok(got.every((a) => a.fields[39] === '00'), 'every request read before the stop is answered');
  await term.closed;
  await stopped;
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect(app.posPort, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
  t.ok(refused, 'no new connections after stop');
});

t.test('Postgres slow: the switch holds at most inFlightMax requests, stops reading, and answers all once Postgres is back', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const inFlightMax = 6;
  const app = await startSwitch(t, env, { inFlightMax, inFlightPerConnectionMax: 32 });
  const terms = await Promise.all(['10000001', '10000002'].map((terminalId) => TestTerminal.connect({ port: app.posPort, terminalId })));
  t.teardown(() => Promise.all(terms.map((x) => x.close())));
  for (const term of terms) t.equal((await term.signOn()).fields[39], '00');
  const before = await balanceOf(app, diamond);
  // Another transaction holds the card's row: every debit of it waits in Postgres.
  const release = await holdCard(t, env.databaseUrl, diamond);
  // Ten purchases pipelined on each connection: twenty, against a switch-wide limit of six.
  const sent = terms.map((term) => {
    const msgs = Array.from({ length: 10 }, (_, i) => term.purchaseMessage(diamond, 100 + i));
    const answers = Promise.all(msgs.map(() => term.nextAnswer()));
    term.writeRaw(Buffer.concat(msgs.map((m) => frame(term.encodeMessage(m)))));
    return { msgs, answers };
  });
  let seen = 0;
  // Up to the limit however slowly the switch reads (not within a fixed time), then a while longer: never past it.
  for (const until = Date.now() + 10_000; seen < inFlightMax && Date.now() < until; await new Promise((r) => setTimeout(r, 5))) seen = Math.max(seen, app.pos.inFlight);
  for (const until = Date.now() + 600; Date.now() < until; await new Promise((r) => setTimeout(r, 5))) seen = Math.max(seen, app.pos.inFlight);
  t.equal(seen, inFlightMax, 'the switch took in requests up to the limit and no further');
  const metrics = (await app.admin.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /pointswitch_reads_paused_total\{reason="in-flight-max"\} [1-9]/, 'and paused reading, counted');
  t.equal(await balanceOf(app, diamond), before, 'nothing committed meanwhile');
  await release();
  for (const { msgs, answers } of sent) {
    const got = await answers;
    t.same(got.map((a) => a.fields[11]), msgs.map((m) => m.fields[11]), 'every request answered, in order');
    t.ok(got.every((a) => a.fields[39] === '00'), 'all approved');
  }
  const points = sent.flatMap((s) => s.msgs).reduce((sum, _m, i) => sum + Math.ceil(((100 + (i % 10)) * 50) / 100), 0);
  t.equal(await balanceOf(app, diamond), before - points, 'each debited once');
  t.equal(app.pos.inFlight, 0);
});

t.test('one card hammered: past cardInFlightMax its requests are declined 65 at once, and other cards are served meanwhile', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { cardInFlightMax: 4 });
  const [hammer, other] = await Promise.all(['10000001', '10000002'].map((terminalId) => TestTerminal.connect({ port: app.posPort, terminalId })));
  t.teardown(() => Promise.all([hammer!.close(), other!.close()]));
  t.equal((await hammer!.signOn()).fields[39], '00');
  t.equal((await other!.signOn()).fields[39], '00');
  const before = await balanceOf(app, diamond);
  const release = await holdCard(t, env.databaseUrl, diamond);
  const msgs = Array.from({ length: 10 }, (_, i) => hammer!.purchaseMessage(diamond, 100 + i));
  const answered: Array<{ i: number; code: unknown }> = [];
  const answers = Promise.all(msgs.map((_m, i) => hammer!.nextAnswer().then((a) => { answered.push({ i, code: a.fields[39] }); return a; })));
  hammer!.writeRaw(Buffer.concat(msgs.map((m) => frame(hammer!.encodeMessage(m)))));
  // While the card's row is held the first four wait in the ledger. Answers keep request order, so the six refused
  // go out after the four; the switch's own count shows them refused at once.
  const refused = /pointswitch_transactions_total\{type="purchase",response_code="65"\} 6/;
  let metrics = '';
  for (const until = Date.now() + 3000; Date.now() < until && !refused.test(metrics); await new Promise((r) => setTimeout(r, 10))) {
    metrics = (await app.admin.inject({ method: 'GET', url: '/metrics' })).body;
  }
  t.match(metrics, refused, 'six declined 65 while the card was held');
  // The first four's debit waits for the card in Postgres before another card's purchase is sent: a debit batch
  // takes several cards, and one that had not yet gone (slow on a busy machine) took the other card with it.
  await settled(async () => await lockWaits(env.databaseUrl) > 0);
  const silverBuy = await other!.send(other!.purchaseMessage('8860000000000002', 100));
  t.equal(silverBuy.fields[39], '00', 'another terminal\'s purchase of another card is approved meanwhile');
  t.equal(answered.length, 0, 'nothing of the hammer answered yet: its answers keep request order');
  await release();
  const got = await answers;
  t.same(got.map((a) => a.fields[39]), ['00', '00', '00', '00', '65', '65', '65', '65', '65', '65'], 'the first four approved once the card was free, the rest 65');
  t.equal(await balanceOf(app, diamond), before - [100, 101, 102, 103].reduce((s, f) => s + Math.ceil((f * 50) / 100), 0), 'only the four debited');
});

t.test('one address at inFlightPerAddressMax is not read further, and another address is served meanwhile', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const perAddress = 4;
  const app = await startSwitch(t, env, { inFlightPerAddressMax: perAddress, inFlightMax: 100 });
  // Two clients: the switch sees 127.0.0.1 and 127.0.0.2 (both loopback on Linux).
  const busy = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  const other = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002', localAddress: '127.0.0.2' });
  t.teardown(() => Promise.all([busy.close(), other.close()]));
  t.equal((await busy.signOn()).fields[39], '00');
  t.equal((await other.signOn()).fields[39], '00');
  const before = await balanceOf(app, diamond);
  const release = await holdCard(t, env.databaseUrl, diamond);
  const msgs = Array.from({ length: 10 }, (_, i) => busy.purchaseMessage(diamond, 100 + i));
  const answers = Promise.all(msgs.map(() => busy.nextAnswer()));
  busy.writeRaw(Buffer.concat(msgs.map((m) => frame(busy.encodeMessage(m)))));
  for (const until = Date.now() + 3000; app.pos.inFlight < perAddress && Date.now() < until;) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(app.pos.inFlight, perAddress, 'the busy address holds its share and no more');
  // The other address is read and answered while the first waits on Postgres (once it does: see lockWaits above).
  await settled(async () => await lockWaits(env.databaseUrl) > 0);
  const silver = await other.send(other.purchaseMessage('8860000000000002', 100));
  t.equal(silver.fields[39], '00', 'another address\'s purchase is approved meanwhile');
  const metrics = (await app.admin.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /pointswitch_reads_paused_total\{reason="in-flight-per-address-max"\} [1-9]/, 'the pause is counted');
  await release();
  const got = await answers;
  t.same(got.map((a) => a.fields[11]), msgs.map((m) => m.fields[11]), 'every request of the busy address answered, in order');
  t.ok(got.every((a) => a.fields[39] === '00'));
  t.equal(await balanceOf(app, diamond), before - msgs.reduce((sum, _m, i) => sum + Math.ceil(((100 + i) * 50) / 100), 0), 'each debited once');
  t.equal(app.pos.inFlight, 0);
});

t.test('a terminal over terminalRequestsPerSecondMax waits its turn; another terminal is answered meanwhile', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const rate = 20;                                           // burst: at least 32
  const app = await startSwitch(t, env, { terminalRequestsPerSecondMax: rate });
  const [fast, calm] = await Promise.all(['10000001', '10000002'].map((terminalId) => TestTerminal.connect({ port: app.posPort, terminalId })));
  t.teardown(() => Promise.all([fast!.close(), calm!.close()]));
  t.equal((await fast!.signOn()).fields[39], '00');
  t.equal((await calm!.signOn()).fields[39], '00');
  // 31 turns left of the fast terminal's burst of 32 (the sign-on took one); then 20 a second.
  const msgs = Array.from({ length: 31 + 30 }, () => fast!.balanceMessage(diamond));
  const started = Date.now();
  let sent = 0;
  const answers: Array<Promise<unknown>> = [];
  // Pipelined 30 at a time (the connection's in-flight limit is 32).
  const all = (async () => {
    while (sent < msgs.length) {
      const chunk = msgs.slice(sent, sent + 30);
      const got = Promise.all(chunk.map(() => fast!.nextAnswer()));
      fast!.writeRaw(Buffer.concat(chunk.map((m) => frame(fast!.encodeMessage(m)))));
      sent += chunk.length;
      answers.push(got);
      await got;
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  const calmStarted = Date.now();
  t.equal((await calm!.send(calm!.balanceMessage(diamond))).fields[39], '00', 'the other terminal is answered');
  const calmMs = Date.now() - calmStarted;
  await all;
  const fastMs = Date.now() - started;
  t.ok(fastMs >= ((msgs.length - 31) / rate) * 1000 - 100, `the fast terminal's last answers waited for its rate (${fastMs} ms for ${msgs.length})`);
  t.ok(calmMs < fastMs / 2, `the other terminal did not wait behind it (${calmMs} ms)`);
  const metrics = (await app.admin.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /^pointswitch_requests_throttled_total (2[0-9]|30)$/m, 'the waits are counted');
});

t.test('a terminal\'s rate budget is its own per client address: a forger using its number elsewhere does not spend it', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { terminalRequestsPerSecondMax: 20 });   // bursts of 32
  const real = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  // The same terminal number from another address, without its keys: every request is refused (no MAC).
  const forger = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001', localAddress: '127.0.0.2' });
  t.teardown(() => Promise.all([real.close(), forger.close()]));
  t.equal((await real.signOn()).fields[39], '00');
  const throttled = async () => Number(/^pointswitch_requests_throttled_total (\d+)$/m.exec((await app.admin.inject({ method: 'GET', url: '/metrics' })).body)?.[1]);
  const flood = Array.from({ length: 30 }, () => forger.balanceMessage(diamond));
  const forged = [...await pipelined(forger, flood), ...await pipelined(forger, flood)];
  t.ok(forged.every((a) => a.fields[39] === 'A0'), 'the forger is refused');
  const afterForger = await throttled();
  t.ok(afterForger >= 20, `the forger waited for its budget (${afterForger} throttled)`);
  // The real terminal, from its own address: its 31 left of a burst of 32 go at once.
  const own = await pipelined(real, Array.from({ length: 31 }, () => real.balanceMessage(diamond)));
  t.ok(own.every((a) => a.fields[39] === '00'), 'the real terminal is answered');
  t.equal(await throttled(), afterForger, 'and none of its requests waited: its budget was untouched');
});


t.test('a connection is read one request at a time until a MAC verifies on it, then pipelines (even while that request waits)', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { inFlightPerConnectionMax: 32 });
  const paused = async () => Number(/^pointswitch_reads_paused_total\{reason="connection-not-trusted"\} (\d+)$/m
    .exec((await app.admin.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0);
  const stranger = await TestTerminal.connect({ port: app.posPort, terminalId: '70000001' });
  const term = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  t.teardown(() => Promise.all([stranger.close(), term.close()]));
  const refused = await pipelined(stranger, Array.from({ length: 3 }, () => stranger.balanceMessage(diamond)));
  t.same(refused.map((a) => a.fields[39]), ['97', '97', '97'], 'an unknown terminal is refused');
  t.ok(await paused() >= 1, 'its pipelined requests were taken one at a time: reading paused for it');
  t.equal((await term.signOn()).fields[39], '00');
  const release = await holdCard(t, env.databaseUrl, diamond);
  const msgs = Array.from({ length: 5 }, (_, i) => term.purchaseMessage(diamond, 100 + i));
  const answers = pipelined(term, msgs);
  let seen = 0;
  for (const until = Date.now() + 3000; seen < 5 && Date.now() < until; await new Promise((r) => setTimeout(r, 5))) seen = Math.max(seen, app.pos.inFlight);
  t.equal(seen, 5, 'the first purchase\'s MAC trusted the connection while it waited for the card: the other four were taken in too');
  await release();
  t.same((await answers).map((a) => a.fields[39]), ['00', '00', '00', '00', '00'], 'and all were approved, in order');
});

t.test('a client cycling through unknown terminal numbers waits for its address\'s refusal budget; trusted connections, its own address\'s too, do not', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const rate = 20;                              // refusals a second from one address, bursts of 32
  const app = await startSwitch(t, env, { refusalsPerAddressPerSecondMax: rate });
  // A good terminal behind the same address as the bad client (a NAT), its connection trusted by a verified MAC.
  const good = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001', localAddress: '127.0.0.2' });
  const bad = await Promise.all(['70000001', '70000002', '70000003', '70000004'].map((terminalId) =>
    TestTerminal.connect({ port: app.posPort, terminalId, localAddress: '127.0.0.2' })));
  const later: TestTerminal[] = [];
  t.teardown(() => Promise.all([good, ...bad, ...later].map((x) => x.close())));
  t.equal((await good.signOn()).fields[39], '00');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00');
  // The burst spent first, so that every request of the flood finds the budget owing however slowly the switch
  // takes them: a burst spent by the flood itself refilled while it went, and on a busy machine the turns it
  // regained were not waits, so fewer were counted than the rule promises.
  await Promise.all(bad.map((b) => pipelined(b, Array.from({ length: 8 }, () => b.balanceMessage(diamond)))));
  const perConnection = 15;
  const started = Date.now();
  const flood = Promise.all(bad.map((b) => pipelined(b, Array.from({ length: perConnection }, () => b.balanceMessage(diamond)))));
  await settled(() => app.pos.waitingForBudget > 0);
  const goodStarted = Date.now();
  for (let i = 0; i < 5; i++) t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00', 'the good terminal is answered');
  const goodMs = Date.now() - goodStarted;
  // A new connection from the owing address proves nothing by signing on, so it waits like the bad ones.
  const redial = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002', localAddress: '127.0.0.2' });
  const elsewhere = await TestTerminal.connect({ port: app.posPort, terminalId: '20000001', merchantId: '898310048160002' });
  later.push(redial, elsewhere);
  const redialStarted = Date.now();
  t.equal((await redial.signOn()).fields[39], '00', 'a sign-on from the owing address is served, in its turn');
  const redialMs = Date.now() - redialStarted;
  const elsewhereStarted = Date.now();
  t.equal((await elsewhere.signOn()).fields[39], '00');
  const elsewhereMs = Date.now() - elsewhereStarted;
  const answers = (await flood).flat();
  const floodMs = Date.now() - started;
  t.ok(answers.every((a) => a.fields[39] === '97'), 'every request of the bad client is refused 97');
  const total = bad.length * perConnection;
  t.ok(floodMs >= ((total - 32) / rate) * 1000 - 200, `the refusals went at the budget's rate after its burst (${total} in ${floodMs} ms)`);
  t.ok(goodMs < floodMs / 4, `the trusted connection behind the same address did not wait (${goodMs} ms for 5)`);
  t.ok(redialMs >= 1000 / rate, `the new connection from the owing address waited its turn (${redialMs} ms)`);
  t.ok(elsewhereMs < redialMs, `a new connection from another address did not (${elsewhereMs} ms)`);
  const metrics = (await app.admin.inject({ method: 'GET', url: '/metrics' })).body;
  t.ok(Number(/^pointswitch_refusals_delayed_total (\d+)$/m.exec(metrics)?.[1]) >= total - 32, 'the waits are counted');
});

t.test('a client refusing from many addresses, each under its own budget, waits for the switch\'s; a terminal dialling in from a clean address does not', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const rate = 20;                              // refusals a second for the whole switch, bursts of 32
  const app = await startSwitch(t, env, { refusalsPerAddressPerSecondMax: 1000, refusalsPerSecondMax: rate });
  const good = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  const bad = await Promise.all([1, 2, 3, 4, 5].map((i) =>
    TestTerminal.connect({ port: app.posPort, terminalId: `7000000${i}`, localAddress: `127.0.1.${i}` })));
  const later: TestTerminal[] = [];
  t.teardown(() => Promise.all([good, ...bad, ...later].map((x) => x.close())));
  t.equal((await good.signOn()).fields[39], '00');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00');
  // The burst spent first, so that every request of the flood finds the budget owing however slowly the switch
  // takes them: a burst spent by the flood itself refilled while it went, and on a busy machine the turns it
  // regained were not waits, so fewer were counted than the rule promises.
  await Promise.all(bad.map((b) => pipelined(b, Array.from({ length: 7 }, () => b.balanceMessage(diamond)))));
  const perConnection = 14;
  const started = Date.now();
  const flood = Promise.all(bad.map((b) => pipelined(b, Array.from({ length: perConnection }, () => b.balanceMessage(diamond)))));
  await settled(() => app.pos.waitingForBudget > 0);
  const clients = (await (await adminCaller(app, 'operator'))('GET', '/clients')).json() as { refusalTurnsLeft: number; clients: Array<{ refusalTurnsLeft: number }> };
  t.ok(clients.refusalTurnsLeft < 0, `GET /clients shows the switch owing refusal turns (${clients.refusalTurnsLeft})`);
  t.ok(clients.clients.every((c) => c.refusalTurnsLeft > 0), 'while no address owes any of its own');
  const goodStarted = Date.now();
  for (let i = 0; i < 5; i++) t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00', 'the trusted terminal is answered');
  const goodMs = Date.now() - goodStarted;
  const redial = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002', localAddress: '127.0.1.1' });
  const clean = await TestTerminal.connect({ port: app.posPort, terminalId: '20000001', merchantId: '898310048160002', localAddress: '127.0.2.1' });
  later.push(redial, clean);
  const cleanStarted = Date.now();
  t.equal((await clean.signOn()).fields[39], '00', 'a terminal dialling in from an address never refused signs on');
  const cleanMs = Date.now() - cleanStarted;
  const redialStarted = Date.now();
  t.equal((await redial.signOn()).fields[39], '00', 'a sign-on from a refusing address is served, in its turn');
  const redialMs = Date.now() - redialStarted;
  const answers = (await flood).flat();
  const floodMs = Date.now() - started;
  t.ok(answers.every((a) => a.fields[39] === '97'), 'every request of the bad client is refused 97');
  const total = bad.length * perConnection;
  t.ok(floodMs >= ((total - 32) / rate) * 1000 - 200, `the refusals went at the switch's rate after its burst (${total} in ${floodMs} ms), though no address came near its own 1,000/s`);
  t.ok(goodMs < floodMs / 4, `the trusted connection did not wait (${goodMs} ms for 5)`);
  t.ok(redialMs >= 1000 / rate, `the new connection from a refusing address waited its turn (${redialMs} ms)`);
  t.ok(cleanMs < redialMs, `the one from a clean address did not (${cleanMs} ms)`);
  const metrics = (await app.admin.inject({ method: 'GET', url: '/metrics' })).body;
  t.ok(Number(/^pointswitch_refusals_delayed_total (\d+)$/m.exec(metrics)?.[1]) >= total - 32 - 5, 'the waits are counted');
  t.match(metrics, /^pointswitch_refusal_turns_left -?\d+$/m, 'the switch\'s turns left are a metric');
  t.match(metrics, /^pointswitch_ledger_lookups_waiting \d+$/m, 'and so are the lookups waiting for Postgres');
});

t.test('requests waiting for the refusal budget do not hold the switch\'s in-flight places: a trusted terminal is read and answered meanwhile', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  // 3 addresses x 4 connections, each with a refused request waiting: 12, over the switch's 8 in flight.
  const app = await startSwitch(t, env, { inFlightMax: 8, inFlightPerAddressMax: 4, refusalsPerAddressPerSecondMax: 1000, refusalsPerSecondMax: 6, shutdownGraceMs: 1000 });
  const good = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  const bad = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    TestTerminal.connect({ port: app.posPort, terminalId: `7000${String(i).padStart(4, '0')}`, localAddress: `127.0.1.${1 + (i % 3)}` })));
  t.teardown(() => Promise.all([good, ...bad].map((x) => x.close())));
  t.equal((await good.signOn()).fields[39], '00');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00', 'the good terminal\'s connection is trusted');
  // Spend the switch's burst of 32, then each bad connection pipelines 3 more: they wait at 6 a second.
  t.ok((await pipelined(bad[0]!, Array.from({ length: 32 }, () => bad[0]!.balanceMessage(diamond)))).every((a) => a.fields[39] === '97'));
  const flood = Promise.all(bad.map((b) => pipelined(b, Array.from({ length: 3 }, () => b.balanceMessage(diamond)))));
  for (const until = Date.now() + 3000; app.pos.waitingForBudget < 12 && Date.now() < until;) await new Promise((r) => setTimeout(r, 5));
  t.equal(app.pos.waitingForBudget, 12, 'every bad connection has a request waiting for the refusal budget');
  t.ok(app.pos.inFlight < 8, `and they are not counted in flight (${app.pos.inFlight})`);
  const started = Date.now();
  for (let i = 0; i < 3; i++) t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00', 'the trusted terminal is answered');
  const goodMs = Date.now() - started;
  t.ok(goodMs < 1000, `without waiting for the refusals to drain (${goodMs} ms for 3; the refusals take 6 s)`);
  const metrics = (await app.admin.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /^pointswitch_requests_waiting_for_budget 12$/m, 'the waiting requests are a metric of their own');
  for (const b of bad) b.close();
  await flood.catch(() => undefined);
});

t.test('sign-ons wait for their address\'s sign-on budget; a trusted terminal and other addresses do not', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const rate = 10;                              // sign-ons a second from one address, bursts of 32
  const app = await startSwitch(t, env, { signOnsPerAddressPerSecondMax: rate, shutdownGraceMs: 1000 });
  const good = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  t.equal((await good.signOn()).fields[39], '00');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00');
  // A client sending sign-ons for a real terminal's number from four connections of one address.
  const bad = await Promise.all(Array.from({ length: 4 }, () => TestTerminal.connect({ port: app.posPort, terminalId: '10000002', localAddress: '127.0.0.2' })));
  const elsewhere = await TestTerminal.connect({ port: app.posPort, terminalId: '20000001', merchantId: '898310048160002', localAddress: '127.0.0.3' });
  t.teardown(() => Promise.all([good, elsewhere, ...bad].map((x) => x.close())));
  // The burst spent first, so that every request of the flood finds the budget owing however slowly the switch
  // takes them: a burst spent by the flood itself refilled while it went, and on a busy machine the turns it
  // regained were not waits, so fewer were counted than the rule promises.
  await Promise.all(bad.map((b) => pipelined(b, Array.from({ length: 8 }, () => b.signOnMessage()))));
  const perConnection = 11;
  const started = Date.now();
  const flood = Promise.all(bad.map((b) => pipelined(b, Array.from({ length: perConnection }, () => b.signOnMessage()))));
  await new Promise((r) => setTimeout(r, 200));
  const goodStarted = Date.now();
  for (let i = 0; i < 3; i++) t.equal((await good.send(good.purchaseMessage(diamond, 100))).fields[39], '00', 'the trusted terminal purchases meanwhile');
  const goodMs = Date.now() - goodStarted;
  const elsewhereStarted = Date.now();
  t.equal((await elsewhere.signOn()).fields[39], '00', 'a sign-on from another address');
  const elsewhereMs = Date.now() - elsewhereStarted;
  const answers = (await flood).flat();
  const floodMs = Date.now() - started;
  t.ok(answers.every((a) => a.fields[39] === '00'), 'every sign-on is answered 00 in its turn');
  const total = bad.length * perConnection;
  t.ok(floodMs >= ((total - 32) / rate) * 1000 - 200, `the address's sign-ons went at its rate after the burst (${total} in ${floodMs} ms)`);
  t.ok(goodMs < 1000, `the trusted terminal did not wait (${goodMs} ms for 3)`);
  t.ok(elsewhereMs < 500, `nor did another address's sign-on (${elsewhereMs} ms)`);
  const metrics = (await app.admin.inject({ method: 'GET', url: '/metrics' })).body;
  t.ok(Number(/^pointswitch_sign_ons_delayed_total (\d+)$/m.exec(metrics)?.[1]) >= total - 32 - 4, 'the waits are counted');
});

t.test('at connectionsMax an untrusted connection whose request only waits for the sign-on budget is closed for room', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { connectionsMax: 6, connectionsPerAddressMax: 100, signOnsPerAddressPerSecondMax: 1, shutdownGraceMs: 1000 });
  const good = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  const later: TestTerminal[] = [];
  t.teardown(() => Promise.all([good, ...later].map((x) => x.close())));
  t.equal((await good.signOn()).fields[39], '00');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00', 'a trusted terminal');
  // A bad client spends its address's burst of 32 sign-ons, hangs up, then holds five connections whose sign-ons wait.
  const spender = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002', localAddress: '127.0.0.2' });
  t.ok((await pipelined(spender, Array.from({ length: 32 }, () => spender.signOnMessage()))).every((a) => a.fields[39] === '00'));
  await spender.close();
  for (const until = Date.now() + 3000; app.pos.connectionCount > 1 && Date.now() < until;) await new Promise((r) => setTimeout(r, 5));
  const waiting = await Promise.all(Array.from({ length: 5 }, () => TestTerminal.connect({ port: app.posPort, terminalId: '10000002', localAddress: '127.0.0.2' })));
  later.push(...waiting);
  for (const w of waiting) w.writeRaw(frame(w.encodeMessage(w.signOnMessage())));
  for (const until = Date.now() + 3000; app.pos.waitingForBudget < 5 && Date.now() < until;) await new Promise((r) => setTimeout(r, 5));
  t.equal(app.pos.waitingForBudget, 5, 'five sign-ons wait for their turn');
  t.equal(app.pos.connectionCount, 6, 'the switch is full');
  const arriving = await TestTerminal.connect({ port: app.posPort, terminalId: '20000001', merchantId: '898310048160002', localAddress: '127.0.0.3' });
  later.push(arriving);
  t.equal((await arriving.signOn()).fields[39], '00', 'a terminal arriving is served: a waiting connection was closed for it');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00', 'the trusted one is kept');
});

t.test('at connectionsMax an idle connection that was never trusted is closed to make room; trusted ones are kept', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { connectionsMax: 10, connectionsPerAddressMax: 100 });
  const evicted = async () => Number(/^pointswitch_connections_evicted_total (\d+)$/m.exec((await app.admin.inject({ method: 'GET', url: '/metrics' })).body)?.[1]);
  const good = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  const later: TestTerminal[] = [];
  t.teardown(() => Promise.all([good, ...later].map((x) => x.close())));
  t.equal((await good.signOn()).fields[39], '00');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00', 'the good terminal proved its keys: its connection is trusted');
  // A bad client fills every other place with connections that never send a thing.
  const idle: Array<{ socket: net.Socket; closed: boolean }> = [];
  const dial = () => new Promise<void>((resolve, reject) => {
    const socket = net.connect({ port: app.posPort, host: '127.0.0.1', localAddress: '127.0.0.2' });
    const entry = { socket, closed: false };
    idle.push(entry);
    socket.once('connect', () => resolve());
    socket.once('error', reject);
    socket.on('close', () => { entry.closed = true; });
  });
  t.teardown(() => { for (const { socket } of idle) socket.destroy(); });
  for (let i = 0; i < 9; i++) await dial();
  for (const until = Date.now() + 3000; app.pos.connectionCount < 10 && Date.now() < until;) await new Promise((r) => setTimeout(r, 5));
  t.equal(app.pos.connectionCount, 10, 'the switch is full');
  // Another terminal arrives: the oldest idle connection of the bad client is closed for it.
  const second = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002' });
  later.push(second);
  t.equal((await second.signOn()).fields[39], '00', 'a terminal arriving at a full switch is served');
  t.equal((await second.send(second.purchaseMessage(diamond, 100))).fields[39], '00');
  t.same(idle.map((x) => x.closed), [true, false, false, false, false, false, false, false, false], 'the oldest idle connection was closed for it');
  // The bad client dials on: each new connection of its own takes the place of an older one, never a trusted one.
  for (let i = 0; i < 15; i++) await dial();
  // The switch counts each close, then the client hears of it: wait for both.
  await settled(async () => await evicted() === 16 && idle.filter((x) => !x.closed).length === 8);
  t.equal(await evicted(), 16, 'one connection closed for each arrival at the limit');
  t.equal(idle.filter((x) => !x.closed).length, 8, 'the bad client keeps the places that were not trusted, no more');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00', 'the trusted connections are kept');
  t.equal((await second.send(second.balanceMessage(diamond))).fields[39], '00');
  t.equal(app.pos.connectionCount, 10);
});

t.test('GET /clients lists the connected addresses: their connections, the trusted ones, what is in flight and the refusal turns left', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { refusalsPerAddressPerSecondMax: 20 });   // bursts of 32
  const good = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  const stranger = await TestTerminal.connect({ port: app.posPort, terminalId: '70000001', localAddress: '127.0.0.2' });
  const idle = await TestTerminal.connect({ port: app.posPort, terminalId: '70000002', localAddress: '127.0.0.2' });
  t.teardown(() => Promise.all([good, stranger, idle].map((x) => x.close())));
  t.equal((await good.signOn()).fields[39], '00');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00');
  const refused = await pipelined(stranger, Array.from({ length: 40 }, () => stranger.balanceMessage(diamond)));
  t.ok(refused.every((a) => a.fields[39] === '97'));
  const operator = await adminCaller(app, 'operator');
  const r = await operator('GET', '/clients');
  t.equal(r.statusCode, 200);
  const body = r.json() as { addresses: number; connections: number; clients: Array<{ address: string; connections: number; trusted: number; inFlight: number; refusalTurnsLeft: number }> };
  t.equal(body.addresses, 2);
  t.equal(body.connections, 3);
  const [first, second] = body.clients;
  t.same([first!.address, first!.connections, first!.trusted, first!.inFlight], ['127.0.0.2', 2, 0, 0], 'the address with the most connections first: none trusted');
  t.ok(first!.refusalTurnsLeft < 32 - 8, `its 40 refusals spent its budget (${first!.refusalTurnsLeft} turns left of 32)`);
  t.same(second, { address: '127.0.0.1', connections: 1, trusted: 1, inFlight: 0, refusalTurnsLeft: 32 }, 'the good terminal\'s address: trusted, owing nothing');
  const limited = await operator('GET', '/clients?limit=1');
  t.same(limited.json().clients.map((c: { address: string }) => c.address), ['127.0.0.2'], 'limit keeps the top addresses');
  const bad = await operator('GET', '/clients?limit=0');
  t.equal(bad.statusCode, 400);
  t.match(bad.headers['content-type'], /application\/problem\+json/);
  t.same((bad.json().errors as Array<{ field: string }>).map((e) => e.field), ['querystring.limit'], 'a bad limit is named');
});

t.test('at connectionsMax a refusing connection is closed for room even while its refused requests wait for the budget', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { connectionsMax: 6, connectionsPerAddressMax: 100, refusalsPerAddressPerSecondMax: 2 });   // bursts of 32
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await app.admin.inject({ method: 'GET', url: '/metrics' })).body)?.[1]);
  const bad = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    TestTerminal.connect({ port: app.posPort, terminalId: `7000000${i + 1}`, localAddress: '127.0.0.2' })));
  const later: TestTerminal[] = [];
  t.teardown(() => Promise.all([...bad, ...later].map((x) => x.close())));
  // Eight refused requests on each: 48 against a burst of 32, so the last ones wait at 2 a second, every
  // connection of the bad client busy with one.
  for (const b of bad) b.writeRaw(Buffer.concat(Array.from({ length: 8 }, () => frame(b.encodeMessage(b.balanceMessage(diamond))))));
  for (const until = Date.now() + 5000; (await metric('pointswitch_refusals_delayed_total')) < 6 && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
  t.equal(app.pos.connectionCount, 6, 'the switch is full, every connection waiting on the refusal budget');
  const good = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  later.push(good);
  t.equal((await good.signOn()).fields[39], '00', 'a terminal arriving is served: a refusing connection was closed for it');
  t.equal((await good.send(good.balanceMessage(diamond))).fields[39], '00');
  t.equal(await metric('pointswitch_connections_evicted_total'), 1);
});
