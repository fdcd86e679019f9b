// SQL is parameterised everywhere in src/: no query text is built from a value by interpolation or `+`. The few
// interpolations that remain put in a constant of the code itself (a column list, a function name chosen from two,
// a catalogue name), never input; each is allowed here by file and expression, with why.
import path from 'node:path';
import t from 'tap';
import { scanFiles, tsFiles, type Built } from './sql-scan.js';

const root = path.resolve(import.meta.dirname, '../..');

/** `file: expression` → why it is safe. */
const allowed: Record<string, string> = {
  'src/admin/cards.ts: columns': 'a constant column list of the module',
  'src/admin/merchants.ts: columns': 'a constant column list of the module',
  'src/admin/terminals.ts: columns': 'a constant column list of the module',
  'src/admin/transactions.ts: columns': 'a constant column list of the module',
  'src/admin/transactions.ts: order': "one of two constants ('auth_id', 'auth_id + 0'), chosen by which filters are given",
  'src/ledger/card-cache.ts: column': "a parameter typed 'status' | 'pin_verification', given by the module's own methods",
  'src/ledger/debits.ts: fn': 'a BatchFunction: one of the two batch debit function names',
  'src/ledger/audit.ts: sql': "the audit's own constant check queries",
  'src/ledger/audit.ts: problemsMax': 'a numeric constant',
  'src/clearing/compute.ts: rates': "the module's constant rate-interval subquery (its values are $1/$2 parameters)",
  'src/clearing/compute.ts: fenPerPoint': 'a numeric constant (2 fen a point)',
  "src/clearing/compute.ts: feeSql(`(l.net_points * ${fenPerPoint})`, 'l.fee_rate_bp')": 'the fee expression over column names and constants',
  'src/clearing/files.ts: table': "a parameter typed as one of the three clearing result tables, given by the module's own calls",
  'src/clearing/files.ts: where': 'column names of the module and $n placeholders: the keyset values are parameters',
  "src/clearing/files.ts: keys.join(', ')": "column names given by the module's own calls",
  'src/clearing/files.ts: pageSize': 'a numeric constant',
  'src/clearing/run.ts: runSelect': "the module's constant SELECT of runs and periods",
  'src/db/migrate.ts: f.name': 'a regular expression and an error message naming a function file, not a query',
  'src/db/migrate.ts: r.sig': "a signature read from pg_proc (regprocedure's text, quoted by Postgres) of a function being replaced",
  'src/db/schema.ts: ns': 'a constant condition (n.nspname = current_schema())',
  'src/db/schema.ts: name': 'a name the generator makes itself: pointswitch_schema_ + random hex',
  'src/db/schema.ts: d.name': 'SCHEMA.sql text generated from the catalogue, never run as a query',
  'src/db/schema.ts: d.base': 'SCHEMA.sql text generated from the catalogue, never run as a query',
  "src/db/schema.ts: d.coll ? ` COLLATE ${d.coll}` : ''": 'SCHEMA.sql text generated from the catalogue, never run as a query',
  "src/db/schema.ts: d.def ? ` DEFAULT ${d.def}` : ''": 'SCHEMA.sql text generated from the catalogue, never run as a query',
  'src/db/schema.ts: t.name': 'SCHEMA.sql text generated from the catalogue, never run as a query',
  "src/db/schema.ts: parts.join(',\\n')": 'SCHEMA.sql text generated from the catalogue, never run as a query',
  "src/db/schema.ts: t.options ? ` WITH (${[...t.options].sort().join(', ')})` : ''": 'SCHEMA.sql text generated from the catalogue, never run as a query',
  'src/db/schema.ts: v.name': 'SCHEMA.sql text generated from the catalogue, never run as a query',
  'src/db/schema.ts: v.def.trimEnd()': 'SCHEMA.sql text generated from the catalogue, never run as a query',
};

const keyOf = (b: Built) => `${b.file}: ${b.expression}`;

t.test('no SQL in src/ is built from a value: every interpolation into SQL text is an allowed constant', async (t) => {
  const found = scanFiles(tsFiles(path.join(root, 'src')), root);
  t.ok(found.length > 0, `${found.length} interpolations into SQL text looked at`);
  const unsafe = found.filter((b) => !(keyOf(b) in allowed)).map((b) => `${b.file}:${b.line} \${${b.expression}} in "${b.sql}"`);
  t.same(unsafe, [], 'none outside the allow-list');
  const used = new Set(found.map(keyOf));
  t.same(Object.keys(allowed).filter((k) => !used.has(k)), [], 'and no allow-list entry is stale');
});

t.test('the scan finds SQL built by interpolation and by concatenation, and passes a parameterised query', async (t) => {
  const found = scanFiles([path.join(root, 'test/security/fixtures/unsafe-sql.ts')], root);
  t.same(found.map((b) => b.expression), ['cardNo', 'terminalId']);
  t.same(found.map((b) => b.line), [5, 9]);
});
