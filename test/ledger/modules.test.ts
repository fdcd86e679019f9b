// The ledger's modules each own one concern and meet only in the facade: no import cycle among them, none
// imports the facade, and the working keys are decrypted in terminal-keys.ts alone.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const dir = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../../src/ledger');
const modules = readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();
const source = (f: string) => readFileSync(path.join(dir, f), 'utf8');

/** The sibling modules a ledger module imports (type-only imports included: they are a dependency too). */
function siblingsOf(file: string): string[] {
  return ts.preProcessFile(source(file), true, true).importedFiles.map((i) => i.fileName)
    .filter((s) => s.startsWith('./')).map((s) => s.slice(2).replace(/\.js$/, '.ts'));
}

/** A cycle through `from`, as the files in order, or null. */
function cycleFrom(from: string, graph: Map<string, string[]>): string[] | null {
  const walk = (at: string, trail: string[]): string[] | null => {
    for (const next of graph.get(at) ?? []) {
      if (next === from) return [...trail, next];
      if (!trail.includes(next)) {
        const found = walk(next, [...trail, next]);
        if (found) return found;
      }
    }
    return null;
  };
  return walk(from, [from]);
}

t.test('no import cycle among the ledger modules, and none imports the facade', async (t) => {
  const graph = new Map(modules.map((f) => [f, siblingsOf(f)]));
  t.ok(graph.get('index.ts')?.includes('money.ts'), 'the facade wires the modules (the reader sees its imports)');
  for (const f of modules) {
    t.equal(cycleFrom(f, graph), null, `${f} is on no import cycle`);
    if (f !== 'index.ts') t.notOk(graph.get(f)?.includes('index.ts'), `${f} does not import the facade`);
  }
});

t.test('the cycle finder finds a cycle', async (t) => {
  t.same(cycleFrom('a.ts', new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']]])), ['a.ts', 'b.ts', 'c.ts', 'a.ts']);
});

t.test('terminal working keys are decrypted in terminal-keys.ts alone', async (t) => {
  const decrypting = modules.filter((f) => f !== 'kek.ts' && /\.decrypt\(/.test(source(f)));
  t.same(decrypting, ['terminal-keys.ts']);
});
