// Every package the lockfile installs must run on every Node our package.json `engines` admits: its own
// `engines.node` must hold at the lowest version of each of our ranges (20.19.0 and 22.12.0 today). npm only warns
// (EBADENGINE) when one does not, and a transitive update can bring one in unseen: light-my-request 6.8 (under
// fastify) moved to cookie 2, which needs Node 22, hence the override in package.json.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

/** The lowest Node version of each range in ours (`a <b || c` gives two). */
export function lowestOfEach(range: string): string[] {
  return new semver.Range(range).set.map((comparators) => semver.minVersion(comparators.map(String).join(' '))!.version);
}

t.test('our engines range has a lowest version per alternative', async (t) => {
  t.same(lowestOfEach('>=20.11 <21 || >=22'), ['20.11.0', '22.0.0']);
  t.same(lowestOfEach('>=18'), ['18.0.0']);
});

t.test('every locked package runs on the lowest Node of each of our ranges', async (t) => {
  const lows = lowestOfEach(pkg.engines.node);
  t.ok(lows.length > 0, `engines.node is ${pkg.engines.node}`);
  const misfits: string[] = [];
  let checked = 0;
  for (const [where, entry] of Object.entries(lock.packages)) {
    const wants = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
    if (!where || !wants) continue;
    checked++;
    for (const low of lows) {
      if (!semver.satisfies(low, wants, { includePrerelease: true })) misfits.push(`${where}@${entry.version} needs node ${wants}, not ${low}`);
    }
  }
  t.ok(checked > 50, `checked ${checked} packages that declare engines.node`);
  t.same(misfits, [], 'no package needs a newer Node than package.json admits');
});
