// The Config type is what the schema outputs, never a hand-written copy beside it: the assertions below are checked
// by the compiler (`npm run typecheck`), and the test fails to compile when the two drift apart.
import t from 'tap';
import type { z } from 'zod';
import { configSchema, defaultConfig, settings, type Config } from '../../src/config/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const expectType = <T extends true>(_proof: T): void => {};

expectType<Equal<Config, z.output<typeof configSchema>>>(true);
expectType<Equal<Config['posPort'], number>>(true);
expectType<Equal<Config['logLevel'], 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'>>(true);
expectType<Equal<Config['databaseUrl'], string | undefined>>(true);
expectType<Equal<Config['kekHex'], string | undefined>>(true);
expectType<Equal<Config['noRedis'], boolean>>(true);
// @ts-expect-error: a setting that does not exist is no key of Config
expectType<Equal<Config['notASetting'], unknown>>(true);

t.test('every setting is a key of the schema and the schema has no key without its setting (env, flag, help)', async (t) => {
  t.same(settings.map((s) => s.key).sort(), Object.keys(configSchema.shape).sort());
  for (const s of settings) t.ok(s.env.length > 0 && s.flag.startsWith('--') && s.help.length > 0, s.key);
});

t.test('the defaults are the schema\'s: defaultConfig() is what the schema makes of nothing', async (t) => {
  t.same(defaultConfig(), configSchema.parse({}));
  t.same(defaultConfig({ poolSize: 3 }), { ...configSchema.parse({}), poolSize: 3 });
});
