// The layer rules, checked on every import in the tree (static, re-export, dynamic and require), read with
// TypeScript's own pre-processor rather than by regular expressions:
//   protocol/   imports only node built-ins and protocol/ itself (pure: no I/O, no src/, no packages);
//   src/ledger  never imports src/switch;
//   simulators/ may import protocol/, never src/ledger or src/switch.
// (dependency-cruiser would do this too, but its current versions need Node 22.)
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
const builtins = new Set(builtinModules);

function sourceFiles(dir: string): string[] {
  const abs = path.join(root, dir);
  let entries: string[];
  try { entries = readdirSync(abs); } catch { return []; }
  return entries.flatMap((e) => {
    const rel = path.join(dir, e);
    if (e === 'node_modules' || e.startsWith('.')) return [];
    if (statSync(path.join(root, rel)).isDirectory()) return sourceFiles(rel);
    return /\.(ts|mts|cts|js|mjs)$/.test(e) && !e.endsWith('.d.ts') ? [rel] : [];
  });
}

export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

type Target = { kind: 'builtin' | 'package' | 'file'; path: string };
function resolve(fromFile: string, spec: string): Target {
  if (spec.startsWith('.') || spec.startsWith('/')) return { kind: 'file', path: path.normalize(path.join(path.dirname(fromFile), spec)) };
  if (spec.startsWith('node:') || builtins.has(spec) || builtins.has(spec.split('/')[0]!)) return { kind: 'builtin', path: spec };
  return { kind: 'package', path: spec };
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir + path.sep);

/** The rule an import breaks, or null. `file` and resolved paths are relative to the repository root. */
export function violation(file: string, spec: string): string | null {
  const to = resolve(file, spec);
  if (under(file, 'protocol')) {
    if (to.kind === 'package') return `protocol/ imports the package ${spec}`;
    if (to.kind === 'file' && !under(to.path, 'protocol')) return `protocol/ reaches outside itself: ${spec}`;
  }
  if (under(file, path.join('src', 'ledger')) && to.kind === 'file' && under(to.path, path.join('src', 'switch'))) {
    return `src/ledger imports src/switch: ${spec}`;
  }
  if (under(file, 'simulators') && to.kind === 'file' && (under(to.path, path.join('src', 'ledger')) || under(to.path, path.join('src', 'switch')))) {
    return `simulators/ imports switch or ledger internals: ${spec}`;
  }
  return null;
}

t.test('the import reader sees static, type-only, re-export, side-effect, dynamic and require imports', async (t) => {
  const src = `import a from './a.js';\nimport type { B } from "../b.js";\nexport * from './c.js';\nimport './d.js';\n` +
    `const e = await import('./e.js');\nconst f = require('f');\n// import x from './commented.js'\nconst s = "import y from './in-a-string.js'";`;
  t.same(importsOf(src), ['./a.js', '../b.js', './c.js', './d.js', './e.js', 'f']);
});

t.test('the rules catch what they forbid', async (t) => {
  t.match(violation('protocol/codec.ts', '../src/log.js'), /outside/);
  t.match(violation('protocol/codec.ts', 'pino'), /package/);
  t.equal(violation('protocol/codec.ts', 'node:crypto'), null);
  t.equal(violation('protocol/spec/x.ts', '../codec.js'), null);
  t.match(violation('src/ledger/index.ts', '../switch/server.js'), /ledger imports src\/switch/);
  t.match(violation('simulators/terminal.ts', '../src/ledger/index.js'), /simulators/);
  t.equal(violation('simulators/terminal.ts', '../protocol/index.js'), null);
  t.equal(violation('src/switch/server.ts', '../ledger/index.js'), null, 'the switch may use the ledger');
});

t.test('protocol/ imports only node built-ins and protocol/; src/ledger never imports src/switch; simulators/ stays off ledger and switch internals', async (t) => {
  const files = [...sourceFiles('protocol'), ...sourceFiles(path.join('src', 'ledger')), ...sourceFiles('simulators')];
  t.ok(files.some((f) => under(f, 'protocol')), `scanned ${files.length} files`);
  const broken: string[] = [];
  for (const file of files) {
    for (const spec of importsOf(readFileSync(path.join(root, file), 'utf8'))) {
      const v = violation(file, spec);
      if (v) broken.push(`${file}: ${v}`);
    }
  }
  t.same(broken, [], 'no import breaks a layer rule');
});
