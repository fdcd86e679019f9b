// `pointswitch apikey`: the admin API's keys from the command line (the first key has to come from somewhere).
// A new key is printed once; list shows names, roles, prefixes and use, never a key. Every change is audited
// with the operating-system user as its actor.
import type { Command } from 'commander';
import { withDatabaseUrl } from '../db/connect.js';
import { createPool, type Pool } from '../db/pool.js';
import { cliActor, recordAudit } from '../admin/audit-trail.js';
import { ApiKeys, roles, type KeyInfo, type Role } from '../admin/keys.js';
import { formatTable } from '../ledger/audit.js';
import { CliError } from './errors.js';
import { commandConfig } from './settings.js';
import type { Config } from '../config/index.js';

type DbOptions = Record<string, unknown>;
type WithKeys = <T>(o: DbOptions, fn: (keys: ApiKeys, pool: Pool) => Promise<T>) => Promise<T>;

/** The database settings every apikey command reads (from src/config, as every command does), and a runner over them. */
function dbOptions(cmd: Command): WithKeys {
  const configOf = commandConfig(cmd, ['databaseUrl', 'dataDir']);
  return (o, fn) => withKeys(configOf(o), fn);
}

async function withKeys<T>(config: Pick<Config, 'databaseUrl' | 'dataDir'>, fn: (keys: ApiKeys, pool: Pool) => Promise<T>): Promise<T> {
  return withDatabaseUrl(config, async (url) => {
    const pool = createPool(url, { poolSize: 1 });
    try { return await fn(new ApiKeys(pool), pool); } finally { await pool.end(); }
  });
}

function role(v: string): Role {
  if (!(roles as readonly string[]).includes(v)) throw new CliError(`--role must be one of ${roles.join(', ')} (got "${v}")`, 2);
  return v as Role;
}

function keyId(v: string): number {
  if (!/^[1-9]\d{0,15}$/.test(v)) throw new CliError(`a key id is a positive whole number, as \`apikey list\` shows it (got "${v}")`, 2);
  return Number(v);
}

/** "3600", "90s", "15m", "24h", "7d" -> seconds. */
export function durationSeconds(v: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(v.trim());
  if (!m) throw new CliError(`--grace takes a duration such as 0, 90s, 15m, 24h or 7d (got "${v}")`, 2);
  const s = Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86_400 } as const)[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  if (s > 30 * 86_400) throw new CliError('--grace is at most 30d', 2);
  return s;
}

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 19) : '-');
const trail = (k: KeyInfo) => ({ keyId: k.keyId, name: k.name, role: k.role, prefix: k.prefix, expiresAt: k.expiresAt, revokedAt: k.revokedAt });

function printNew(verb: string, key: string, k: KeyInfo): void {
  process.stdout.write(`${verb} key ${k.keyId} "${k.name}" (role ${k.role}). The key, shown this once:\n\n  ${key}\n\n`
    + 'Send it as "Authorization: Bearer <key>". It is stored only as a hash: keep it now, it cannot be shown again.\n');
}

export function register(program: Command): void {
  const apikey = program.command('apikey').description('create, list, revoke and rotate the admin API\'s keys');
  const create = apikey.command('create').description('make a key and print it once');
  const inCreate = dbOptions(create);
  create
    .requiredOption('--role <role>', `what the key may do: ${roles.join(', ')}`)
    .requiredOption('--name <name>', 'who or what holds it (shown in lists and the audit trail)')
    .option('--key-only', 'print only the key (for KEY=$(pointswitch apikey create … --key-only))')
    .action(async (o: DbOptions & { role: string; name: string; keyOnly?: boolean }) => {
      const r = role(o.role);
      if (o.name.trim() === '' || o.name.length > 100) throw new CliError('--name must be 1 to 100 characters', 2);
      const made = await inCreate(o, async (keys, pool) => {
        const m = await keys.create({ role: r, name: o.name });
        await recordAudit(pool, cliActor(), { action: 'key.create', subject: String(m.info.keyId), after: trail(m.info) });
        return m;
      });
      if (o.keyOnly) process.stdout.write(`${made.key}\n`);
      else printNew('Created', made.key, made.info);
    });
  const list = apikey.command('list').description('every key: id, name, role, prefix, created, last used, state (never the key)');
  const inList = dbOptions(list);
  list
    .option('--json', 'as JSON')
    .action(async (o: DbOptions & { json?: boolean }) => {
      const keys = await inList(o, (k) => k.list());
      if (o.json) { process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`); return; }
      const state = (k: KeyInfo) => (k.revokedAt ? `revoked ${when(k.revokedAt)}` : k.expiresAt ? `until ${when(k.expiresAt)}` : 'active');
      process.stdout.write(`${formatTable(['id', 'name', 'role', 'prefix', 'created', 'last used', 'state'],
        keys.map((k) => [String(k.keyId), k.name, k.role, `psk_${k.prefix}_…`, when(k.createdAt), when(k.lastUsedAt), state(k)]))}\n`);
    });
  const revoke = apikey.command('revoke').description('stop a key at once').argument('<keyId>', 'the key\'s id (apikey list)');
  const inRevoke = dbOptions(revoke);
  revoke
    .action(async (id: string, o: DbOptions) => {
      const n = keyId(id);
      const k = await inRevoke(o, async (keys, pool) => {
        const before = await keys.get(n);
        const after = await keys.revoke(n);
        if (before && after) await recordAudit(pool, cliActor(), { action: 'key.revoke', subject: String(n), before: trail(before), after: trail(after) });
        return after;
      });
      if (!k) throw new CliError(`no key ${n}`, 1);
      process.stdout.write(`Revoked key ${k.keyId} "${k.name}" (role ${k.role}).\n`);
    });
  const rotate = apikey.command('rotate').description('a new key of the same name and role; the old one works for the grace period, then stops')
    .argument('<keyId>', 'the key\'s id (apikey list)');
  const inRotate = dbOptions(rotate);
  rotate
    .option('--grace <duration>', 'how long the old key keeps working: 0, 90s, 15m, 24h, 7d', '24h')
    .action(async (id: string, o: DbOptions & { grace: string }) => {
      const n = keyId(id);
      const grace = durationSeconds(o.grace);
      const r = await inRotate(o, async (keys, pool) => {
        const before = await keys.get(n);
        const rotated = await keys.rotate(n, grace);
        if (before && rotated) await recordAudit(pool, cliActor(), { action: 'key.rotate', subject: String(n), before: trail(before), after: { old: trail(rotated.old), new: trail(rotated.info) } });
        return rotated;
      });
      if (!r) throw new CliError(`no usable key ${n} (unknown, revoked or expired)`, 1);
      printNew(`Rotated key ${n} into`, r.key, r.info);
      process.stdout.write(`The old key ${n} works until ${when(r.old.expiresAt)} UTC.\n`);
    });
}
