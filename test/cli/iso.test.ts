import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { decodeHex, encodeJson } from '../../src/cli/iso.js';
import { CliError } from '../../src/cli/errors.js';
import { encode, encodeWithMac, frame } from '../../protocol/index.js';
import { published, purchase } from '../protocol/messages.js';

type Decoded = { framing: { lengthPrefix: boolean }; mti: string; fields: Record<string, { value: string; masked?: boolean; subfields?: Record<string, { value: string }> }>; mac?: { valid: boolean } };

t.test('iso decode takes hex with the 2-byte length prefix off when it counts the rest, and says so', async (t) => {
  const d = decodeHex(published.signOnResponse) as Decoded;
  t.equal(d.framing.lengthPrefix, true);
  t.equal(d.mti, '0810');
  t.equal(d.fields['60']!.subfields!['60.3']!.value, '003', 'subfields by number');
  const bare = decodeHex(published.signOnResponse.slice(4)) as Decoded;
  t.equal(bare.framing.lengthPrefix, false, 'without the prefix: the body itself');
  t.same(bare.fields, d.fields);
  t.throws(() => decodeHex(published.signOnResponse.slice(4), { framing: 'prefixed' }), CliError, '--framing prefixed insists on a matching length');
});

t.test('iso decode masks card data unless --unmasked', async (t) => {
  const hex = frame(encode(purchase)).toString('hex');
  const masked = JSON.stringify(decodeHex(hex));
  t.notMatch(masked, /8860000000000001/);
  t.match(masked, /886000\*{6}0001/);
  const d = decodeHex(hex, { unmasked: true }) as Decoded;
  t.equal(d.fields['2']!.value, '8860000000000001');
});

t.test('iso encode accepts the JSON iso decode --unmasked prints and gives back the same bytes', async (t) => {
  for (const hex of Object.values(published)) {
    const json = JSON.stringify(decodeHex(hex, { unmasked: true }));
    t.equal(encodeJson(json), hex.toUpperCase(), 'with the length prefix by default');
    t.equal(encodeJson(json, { bare: true }), hex.slice(4).toUpperCase(), '--bare: the body only');
  }
});

t.test('iso encode refuses masked values, bad JSON and bad fields with a one-line CliError', async (t) => {
  const masked = JSON.stringify(decodeHex(frame(encode(purchase)).toString('hex')));
  t.throws(() => encodeJson(masked), { message: /field 2: the value is masked/ });
  t.throws(() => encodeJson('{'), CliError);
  t.throws(() => encodeJson(JSON.stringify({ tpdu: purchase.tpdu, header: purchase.header, mti: '0200', fields: { 3: '12' } })), { message: /field 3/ });
  t.throws(() => decodeHex('60zz'), CliError);
  t.throws(() => decodeHex('6000030000603100'), { message: /truncated/ });
});

t.test('iso encode --mak sets a MAC that iso decode --mak verifies', async (t) => {
  const mak = '0123456789ABCDEFFEDCBA9876543210';
  const json = JSON.stringify({ tpdu: purchase.tpdu, header: purchase.header, mti: '0200', fields: { 3: '000000', 4: '000000001000', 11: '000001', 41: '10000001' } });
  const hex = encodeJson(json, { mak });
  t.equal(hex, frame(encodeWithMac({ ...purchase, fields: { 3: '000000', 4: '000000001000', 11: '000001', 41: '10000001' } }, 'ecb', Buffer.from(mak, 'hex'))).toString('hex').toUpperCase());
  t.equal((decodeHex(hex, { mak }) as Decoded).mac!.valid, true);
  t.equal((decodeHex(hex, { mak: '11111111111111111111111111111111' }) as Decoded).mac!.valid, false);
});

t.test('the pointswitch command runs iso decode and iso encode', async (t) => {
  const run = (args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    `const m = await import('./src/cli/main.ts'); process.exit(await m.runCli(['node', 'pointswitch', ...${JSON.stringify(args)}]));`]);
  const out = await run(['iso', 'decode', published.batchCloseResponse, '--unmasked']);
  const d = JSON.parse(out.stdout) as Decoded;
  t.equal(d.mti, '0510');
  t.equal(d.fields['48']!.subfields!['48.1']!.value, '000000000011');
  const enc = await run(['iso', 'encode', out.stdout]);
  t.equal(enc.stdout.trim(), published.batchCloseResponse.toUpperCase());
  await t.rejects(run(['iso', 'decode', '00']), { code: 1, stderr: /pointswitch: cannot decode .*truncated/ }, 'a bad message: one line, exit 1');
});
