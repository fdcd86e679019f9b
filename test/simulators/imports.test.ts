// The simulator talks to the switch only over TCP: it may import protocol/, node built-ins and npm packages,
// never src/ (ledger, switch, config…). A tester can then trust it to behave like an outside terminal.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}

/** Relative imports of `file` that leave simulators/ for anything but protocol/. */
function forbiddenImports(file: string, text: string): string[] {
  const specs = [...text.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '');
  return specs.filter((spec) => {
    if (!spec.startsWith('.')) return false; // node: built-ins and packages
    const target = path.relative('.', path.resolve(path.dirname(file), spec));
    return !(target.startsWith(`simulators${path.sep}`) || target.startsWith(`protocol${path.sep}`));
  });
}

t.test('simulators/ imports only protocol/, its own files, node built-ins and npm packages', async (t) => {
  const sources = files('simulators');
  t.ok(sources.length >= 8);
  for (const file of sources) t.same(forbiddenImports(file, readFileSync(file, 'utf8')), [], file);
});

t.test('the import check catches an import of src/, static or dynamic', async (t) => {
  t.same(forbiddenImports('simulators/x.ts', "import { Ledger } from '../src/ledger/index.js';"), ['../src/ledger/index.js']);
  t.same(forbiddenImports('simulators/x.ts', "const m = await import('../src/app.js');"), ['../src/app.js']);
  t.same(forbiddenImports('simulators/x.ts', "import { encode } from '../protocol/index.js';\nimport net from 'node:net';"), []);
});
