// `npx pointswitch` and `npx pointswitch-sim` run the built files directly: they must be executable with a
// node shebang (npm links them before `prepare` builds them, so the build itself sets the mode).
import { readFileSync, statSync } from 'node:fs';
import t from 'tap';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };

for (const [name, file] of Object.entries(pkg.bin)) {
  t.test(`bin ${name} (${file}) is built executable with a node shebang`, async (t) => {
    const url = new URL(`../../${file}`, import.meta.url);
    const st = statSync(url, { throwIfNoEntry: false });
    t.ok(st, `${file} exists (npm ci runs prepare, which builds)`);
    if (!st) return;
    t.equal(st.mode & 0o111, 0o111, 'executable by everyone');
    t.match(readFileSync(url, 'utf8').split('\n')[0], /^#!\/usr\/bin\/env node$/);
  });
}
