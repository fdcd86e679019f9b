// `pointswitch iso decode <hex>` and `pointswitch iso encode <json>`: read and craft POS messages by hand.
// decode prints JSON (framing, TPDU, header, MTI, bitmap, every field and subfield by number), masked unless
// --unmasked; encode takes that JSON (or a smaller one) and prints hex, with the 2-byte length unless --bare.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from './errors.js';
import {
  computeMac, decode, describe, encode, encodeWithMac, frame, messageFromJson, verifyMac, MAC_BYTES, MTI_OFFSET,
  type MacAlgorithm,
} from '../../protocol/index.js';

export type Framing = 'auto' | 'prefixed' | 'bare';

function hexBytes(input: string, what: string): Buffer {
  const hex = input.replace(/[\s:]+/g, '').replace(/^0x/i, '');
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) throw new CliError(`${what} must be an even number of hex digits`);
  return Buffer.from(hex, 'hex');
}

function macAlgorithm(v: string): MacAlgorithm {
  if (v !== 'ecb' && v !== 'x919') throw new CliError('--mac-alg is ecb or x919');
  return v;
}

/** The JSON `iso decode` prints. `framing: auto` takes a leading 2 bytes as the length when they count the rest. */
export function decodeHex(hex: string, o: { framing?: Framing; unmasked?: boolean; mak?: string; macAlg?: string } = {}): object {
  const bytes = hexBytes(hex, 'the message');
  const framing = o.framing ?? 'auto';
  const declared = bytes.length >= 2 ? bytes.readUInt16BE(0) : -1;
  let prefixed: boolean;
  if (framing === 'prefixed') {
    if (bytes.length < 2 || declared !== bytes.length - 2) throw new CliError(`the 2-byte length says ${declared} bytes but ${bytes.length - 2} follow (frame-length-mismatch)`);
    prefixed = true;
  } else {
    prefixed = framing === 'auto' && bytes.length >= 2 && declared === bytes.length - 2;
  }
  const body = prefixed ? bytes.subarray(2) : bytes;
  const r = decode(body);
  if (!r.ok) {
    const partial = r.error.partial ? ` — read so far: ${JSON.stringify(r.error.partial)}` : '';
    throw new CliError(`cannot decode (${prefixed ? '2-byte length prefix taken off' : 'no length prefix'}): ${r.error.message}${partial}`);
  }
  const secondary = (body[13]! & 0x80) !== 0;
  const out: Record<string, unknown> = {
    framing: {
      lengthPrefix: prefixed,
      ...(prefixed ? { length: declared } : {}),
      bodyBytes: body.length,
      note: prefixed ? 'the first 2 bytes were the big-endian length of the rest' : 'no 2-byte length prefix: the input is the frame body (TPDU first)',
    },
    ...describe(r.message, { unmasked: o.unmasked === true }),
    bitmap: body.subarray(13, secondary ? 29 : 21).toString('hex').toUpperCase(),
  };
  if (o.mak) {
    const alg = macAlgorithm(o.macAlg ?? 'ecb');
    const key = hexBytes(o.mak, '--mak');
    const has64 = r.message.fields[64] !== undefined;
    out.mac = {
      algorithm: alg,
      valid: has64 && verifyMac(body, alg, key),
      ...(has64 && o.unmasked ? { expected: computeMac(alg, key, body.subarray(MTI_OFFSET, body.length - MAC_BYTES)).toString('hex').toUpperCase() } : {}),
    };
  }
  return out;
}

/** The hex `iso encode` prints for a message JSON (as `iso decode --unmasked` prints it, or just values). */
export function encodeJson(json: string, o: { bare?: boolean; mak?: string; macAlg?: string } = {}): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new CliError(`the message is not JSON: ${(e as Error).message}`);
  }
  let body: Buffer;
  try {
    const msg = messageFromJson(parsed);
    body = o.mak ? encodeWithMac(msg, macAlgorithm(o.macAlg ?? 'ecb'), hexBytes(o.mak, '--mak')) : encode(msg);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot encode: ${(e as Error).message}`);
  }
  return (o.bare ? body : frame(body)).toString('hex').toUpperCase();
}

function readArg(v: string): string {
  if (v === '-') return readFileSync(0, 'utf8');
  if (v.startsWith('@')) return readFileSync(v.slice(1), 'utf8');
  return v;
}

export function register(program: Command): void {
  const iso = program.command('iso').description('read and craft UnionPay POS ISO 8583 messages');
  iso.command('decode')
    .description('decode a message given as hex (spaces allowed) and print it as JSON; card data masked unless --unmasked')
    .argument('<hex>', "the message as hex, '-' for stdin or @file; with or without the 2-byte length prefix (see --framing)")
    .option('--framing <how>', 'auto: a leading 2-byte length is taken off when it counts the rest; prefixed: it must be there; bare: none', 'auto')
    .option('--unmasked', 'print card numbers, tracks, PIN block, keys and MAC in full')
    .option('--mak <hex>', 'MAC key (16 or 32 hex digits): also check field 64')
    .option('--mac-alg <alg>', 'ecb (UnionPay POS) or x919', 'ecb')
    .action((hex: string, opts: { framing: string; unmasked?: boolean; mak?: string; macAlg: string }) => {
      if (!['auto', 'prefixed', 'bare'].includes(opts.framing)) throw new CliError('--framing is auto, prefixed or bare');
      process.stdout.write(`${JSON.stringify(decodeHex(readArg(hex), { ...opts, framing: opts.framing as Framing }), null, 2)}\n`);
    });
  iso.command('encode')
    .description('encode a message JSON (what `iso decode --unmasked` prints, or { tpdu, header, mti, fields }) and print hex')
    .argument('<json>', "the message as JSON, '-' for stdin or @file; b fields as hex")
    .option('--bare', 'print the frame body only, without the 2-byte length prefix')
    .option('--mak <hex>', 'MAC key (16 or 32 hex digits): set field 64 to the MAC')
    .option('--mac-alg <alg>', 'ecb (UnionPay POS) or x919', 'ecb')
    .action((json: string, opts: { bare?: boolean; mak?: string; macAlg: string }) => {
      process.stdout.write(`${encodeJson(readArg(json), opts)}\n`);
    });
}
