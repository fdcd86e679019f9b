// The docs stay true to the tree: the front page stays a front page, every relative link in a README leads to a
// file that exists (and to a heading that exists, when it names one), the front page reaches each capability's
// README in one click, and every setting is described where the front page says settings are described.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { settings } from '../src/config/index.js';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
const skipped = new Set(['node_modules', 'dist', '.git', '.data', '.tap', 'bench-results']);

/** README.md and every README.md beside the code, relative to the root. */
function readmes(dir = ''): string[] {
  return readdirSync(path.join(root, dir)).flatMap((e) => {
    if (skipped.has(e)) return [];
    const rel = path.join(dir, e);
    if (statSync(path.join(root, rel)).isDirectory()) return readmes(rel);
    return e === 'README.md' ? [rel] : [];
  });
}

/** Markdown without fenced code blocks and inline code, where `[x](y)` is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1]!)));
}

const files = readmes();

t.test('the front page is a front page: README.md is at most 16 KB', async (t) => {
  const bytes = statSync(path.join(root, 'README.md')).size;
  t.ok(bytes <= 16 * 1024, `README.md is ${bytes} bytes`);
});

t.test('every relative link in a README leads to a file that exists, and to its heading when it names one', async (t) => {
  t.ok(files.length >= 6, `READMEs found: ${files.join(', ')}`);
  for (const file of files) {
    for (const link of links(readFileSync(path.join(root, file), 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
      const [target = '', anchor] = link.split('#');
      const resolved = target === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), decodeURIComponent(target));
      t.ok(existsSync(resolved), `${file}: ${link} leads to ${path.relative(root, resolved) || '.'}`);
      if (anchor && existsSync(resolved) && resolved.endsWith('.md')) {
        t.ok(anchors(resolved).has(anchor), `${file}: ${link} names a heading of ${path.relative(root, resolved)}`);
      }
    }
  }
});

t.test('the front page links to the README of each capability', async (t) => {
  const targets = new Set(links(readFileSync(path.join(root, 'README.md'), 'utf8')).map((l) => path.normalize(l.split('#')[0]!)));
  for (const readme of ['protocol/README.md', 'src/ledger/README.md', 'src/ledger/sql/README.md', 'src/switch/README.md', 'src/admin/README.md', 'src/clearing/README.md', 'simulators/README.md', 'test/bench/README.md']) {
    t.ok(targets.has(readme), `README.md links to ${readme}`);
  }
});

t.test('every setting is described with its environment variable, flag and default in src/switch/README.md', async (t) => {
  const doc = readFileSync(path.join(root, 'src/switch/README.md'), 'utf8');
  const rows = new Map([...doc.matchAll(/^\| `(\w+)` \|(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  for (const s of settings) {
    const row = rows.get(s.key);
    t.ok(row, `${s.key} has a row`);
    if (!row) continue;
    for (const env of s.env) t.ok(row.includes(`\`${env}\``), `${s.key}: environment ${env}`);
    t.ok(row.includes(`\`${s.flag}\``), `${s.key}: flag ${s.flag}`);
    const fallback = s.schema.safeParse(undefined);
    if (fallback.success && fallback.data !== undefined) t.ok(row.includes(`\`${String(fallback.data)}\``), `${s.key}: default ${String(fallback.data)}`);
  }
});
