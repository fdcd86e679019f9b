// The layer rules, checked on every import in the tree (static, re-export, dynamic and require), read with
// TypeScript's own pre-processor rather than by regular expressions:
//   protocol/   imports only node built-ins and protocol/ itself (pure: no I/O, no src/, no packages);
//   src/ledger  never imports src/switch, src/admin or src/clearing;
//   src/clearing reads the database; never imports src/switch or src/admin (the CLI and the admin API call it);
//   src/admin   uses the ledger (and the modules beside it), but of the switch only its metrics;
//   simulators/ imports only protocol/, its own files, node built-ins and the few packages its command line
//               needs: a terminal sees the switch through the wire alone (no pg, no ioredis, nothing of src/).
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
const withoutExtension = (p: string) => p.replace(/\.(ts|mts|cts|js|mjs|cjs)$/, '');
const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

/** The packages simulators/ may use: its command line, scenario files and their schema. */
export const simulatorPackages = ['commander', 'yaml', 'zod'];
const switchMetrics = path.join('src', 'switch', 'metrics');

/** The rule an import breaks, or null. `file` and resolved paths are relative to the repository root. */
export function violation(file: string, spec: string): string | null {
  const to = resolve(file, spec);
  if (under(file, 'protocol')) {
    if (to.kind === 'package') return `protocol/ imports the package ${spec}`;
    if (to.kind === 'file' && !under(to.path, 'protocol')) return `protocol/ reaches outside itself: ${spec}`;
  }
  if (under(file, path.join('src', 'ledger')) && to.kind === 'file') {
    if (under(to.path, path.join('src', 'switch'))) return `src/ledger imports src/switch: ${spec}`;
    if (under(to.path, path.join('src', 'admin'))) return `src/ledger imports src/admin: ${spec}`;
    if (under(to.path, path.join('src', 'clearing'))) return `src/ledger imports src/clearing: ${spec}`;
  }
  if (under(file, path.join('src', 'clearing')) && to.kind === 'file') {
    if (under(to.path, path.join('src', 'switch'))) return `src/clearing imports src/switch: ${spec}`;
    if (under(to.path, path.join('src', 'admin'))) return `src/clearing imports src/admin: ${spec}`;
  }
  if (under(file, path.join('src', 'admin')) && to.kind === 'file' && under(to.path, path.join('src', 'switch')) && withoutExtension(to.path) !== switchMetrics) {
    return `src/admin imports switch internals (only src/switch/metrics is allowed): ${spec}`;
  }
  if (under(file, 'simulators')) {
    if (to.kind === 'package' && !simulatorPackages.includes(packageOf(spec))) {
      return `simulators/ imports the package ${spec} (allowed: ${simulatorPackages.join(', ')}; a terminal sees the switch through the wire alone)`;
    }
    if (to.kind === 'file' && !under(to.path, 'simulators') && !under(to.path, 'protocol')) return `simulators/ reaches outside itself and protocol/: ${spec}`;
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
  t.match(violation('src/ledger/index.ts', '../admin/cards.js'), /ledger imports src\/admin/);
  t.equal(violation('src/ledger/index.ts', '../db/pool.js'), null, 'the ledger may use the database');
  t.match(violation('src/ledger/index.ts', '../clearing/run.js'), /ledger imports src\/clearing/);
  t.match(violation('src/clearing/run.ts', '../admin/audit-trail.js'), /clearing imports src\/admin/);
  t.match(violation('src/clearing/run.ts', '../switch/clock.js'), /clearing imports src\/switch/);
  t.equal(violation('src/clearing/run.ts', '../db/pool.js'), null, 'clearing may use the database');
  t.match(violation('src/admin/cards.ts', '../switch/session.js'), /src\/admin imports switch internals/);
  t.match(violation('src/admin/x/y.ts', '../../switch/handlers/purchase.js'), /src\/admin imports switch internals/);
  t.equal(violation('src/admin/metrics.ts', '../switch/metrics.js'), null, 'the admin API may read the switch\'s metrics');
  t.equal(violation('src/admin/cards.ts', '../ledger/index.js'), null, 'the admin API may use the ledger');
  t.equal(violation('src/admin/clearing.ts', '../clearing/index.js'), null, 'and the modules beside it');
  t.match(violation('simulators/terminal.ts', '../src/ledger/index.js'), /simulators/);
  t.match(violation('simulators/x.ts', '../src/app.js'), /simulators\/ reaches outside/, 'nothing of src/, not only ledger and switch');
  t.match(violation('simulators/load.ts', 'pg'), /simulators\/ imports the package pg/);
  t.match(violation('simulators/load.ts', 'ioredis'), /simulators\/ imports the package ioredis/);
  t.match(violation('simulators/x.ts', '../test/support/db.js'), /simulators\/ reaches outside/);
  t.equal(violation('simulators/terminal.ts', '../protocol/index.js'), null);
  t.equal(violation('simulators/scenarios/x.ts', '../demo.js'), null, 'its own files');
  t.equal(violation('simulators/x.ts', 'node:net'), null, 'node built-ins');
  t.equal(violation('simulators/cli.ts', 'commander'), null, 'the packages its command line needs');
  t.equal(violation('src/switch/server.ts', '../ledger/index.js'), null, 'the switch may use the ledger');
  // An import of src/ is caught whether static or dynamic.
  const forbidden = (source: string) => importsOf(source).filter((spec) => violation('simulators/x.ts', spec) !== null);
  t.same(forbidden("import { Ledger } from '../src/ledger/index.js';"), ['../src/ledger/index.js']);
  t.same(forbidden("const m = await import('../src/app.js');"), ['../src/app.js']);
  t.same(forbidden("import { encode } from '../protocol/index.js';\nimport net from 'node:net';"), []);
});

t.test('every import in protocol/, src/ and simulators/ keeps the layer rules', async (t) => {
  const files = [...sourceFiles('protocol'), ...sourceFiles('src'), ...sourceFiles('simulators')];
  t.ok(files.some((f) => under(f, 'protocol')), `scanned ${files.length} files`);
  t.ok(files.filter((f) => under(f, path.join('src', 'admin'))).length >= 5, 'src/admin is scanned');
  t.ok(files.filter((f) => under(f, 'simulators')).length >= 8, 'simulators/ is scanned');
  const broken: string[] = [];
  for (const file of files) {
    for (const spec of importsOf(readFileSync(path.join(root, file), 'utf8'))) {
      const v = violation(file, spec);
      if (v) broken.push(`${file}: ${v}`);
    }
  }
  t.same(broken, [], 'no import breaks a layer rule');
});
