// Terminal profiles: a tester's own terminal described once (its number, its merchant, its master key and MAC
// algorithm, and the switch it talks to) and used by name (`--profile tea`). A terminal knows its own merchant;
// without a profile the simulator knows only the demo terminals' merchants, and a swipe under another merchant's
// number is answered 03. Profiles are small JSON files beside the terminals' state files.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const profileSchema = z.strictObject({
  terminal: z.string().regex(/^[!-~]{1,8}$/, { message: 'a terminal id (41) is 1 to 8 printable characters' }),
  merchant: z.string().regex(/^[!-~]{1,15}$/, { message: 'a merchant id (42) is 1 to 15 printable characters' }),
  tmk: z.string().regex(/^(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})$/, { message: 'a master key is 16 or 32 hex digits' }),
  mac: z.enum(['ecb', 'x919']).optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
});
export type Profile = z.infer<typeof profileSchema>;

const nameRule = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A profile's file: `<state dir>/profiles/<name>.json`, or the path itself when given one (`./tea.json`). */
export function profileFile(stateDir: string, name: string): string {
  if (name.includes('/') || name.endsWith('.json')) return path.resolve(name);
  if (!nameRule.test(name)) throw new Error(`not a profile name: ${JSON.stringify(name)} (letters, digits, . _ -)`);
  return path.join(stateDir, 'profiles', `${name}.json`);
}

export function readProfile(stateDir: string, name: string): Profile {
  const file = profileFile(stateDir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no terminal profile ${JSON.stringify(name)} (${file}): make one with `
      + '`pointswitch-sim profile add <name> --terminal <id> --merchant <id> --tmk <hex>`');
  }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (err) { throw new Error(`${file}: not valid JSON: ${(err as Error).message}`); }
  const r = profileSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new Error(`${file}: ${first ? `${first.path.join('.') || '(top)'}: ${first.message}` : 'not a terminal profile'}`);
  }
  return r.data;
}

/** Writes the profile (owner-only: it holds a master key) and gives its file. */
export function saveProfile(stateDir: string, name: string, profile: Profile): string {
  const p = profileSchema.parse(profile);
  const file = profileFile(stateDir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(p, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}

export function listProfiles(stateDir: string): Array<{ name: string; profile: Profile | null }> {
  let names: string[];
  try { names = readdirSync(path.join(stateDir, 'profiles')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)); } catch { return []; }
  return names.sort().map((name) => {
    try { return { name, profile: readProfile(stateDir, name) }; } catch { return { name, profile: null }; }
  });
}
