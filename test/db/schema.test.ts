// migrations/SCHEMA.sql is what `npm run schema` makes of the current migrations and function files: regenerated
// here from a fresh database, it must be the file. (After changing a migration or a function file: npm run schema.)
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { functionsDir } from '../../src/db/migrate.js';
import { freshSchema, schemaFile } from '../../src/db/schema.js';

const serverUrl = (): string => {
  const url = process.env.POINTSWITCH_TEST_DATABASE_URL;
  if (!url) throw new Error('POINTSWITCH_TEST_DATABASE_URL is unset: run the tests with test/support/run.ts');
  return url;
};

t.test('migrations/SCHEMA.sql is current: `npm run schema` makes it again, the same', async (t) => {
  const made = await freshSchema(serverUrl());
  t.equal(made, readFileSync(schemaFile(), 'utf8'), 'migrations/SCHEMA.sql is stale: run `npm run schema` and commit it');
  t.equal(await freshSchema(serverUrl()), made, 'and the same on every run (no dates, a fixed order)');
});

t.test('the check fails when a function file changes and SCHEMA.sql is not made again', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-fns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(functionsDir(), dir, { recursive: true });
  const file = path.join(dir, 'ps_points.sql');
  writeFileSync(file, readFileSync(file, 'utf8').replace('+ 99) / 100', '+ 50) / 100'));
  const made = await freshSchema(serverUrl(), { functionsDir: dir });
  t.not(made, readFileSync(schemaFile(), 'utf8'), 'the regenerated schema differs from the file');
  t.match(made, '+ 50) / 100', 'by the changed function');
});
