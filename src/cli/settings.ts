// Every command's settings come from src/config: a command names the settings it uses, gets their flags (with
// their help and environment variables) registered, and gets them back validated, from env and flags (flags win).
import { Option, type Command } from 'commander';
import { loadSettings, settingKeys, settings, ConfigError, type Config, type SettingKey } from '../config/index.js';
import { CliError } from './errors.js';

/** Exit code of a command refused for its settings, before it did anything. */
export const configExitCode = 2;

/**
 * Adds to `cmd` the flag of each setting in `keys` (every setting when omitted) and returns the reader of the
 * parsed options: it takes the settings from `env` and the flags and returns them validated, or throws a CliError
 * listing every invalid one (exit 2), the same report in every command.
 */
export function commandConfig<K extends SettingKey = SettingKey>(cmd: Command, keys: readonly K[] = settingKeys as readonly K[]):
    (opts: Record<string, unknown>, env?: NodeJS.ProcessEnv) => Pick<Config, K> {
  // commander names an option by its flag: `--pos-port` is `posPort`, and `--no-redis` is `redis` (false when given).
  const options = settings.filter((s) => (keys as readonly SettingKey[]).includes(s.key)).map((s) => {
    const option = new Option(s.flag, `${s.help} [env ${s.env.join(' or ')}]`);
    cmd.addOption(option);
    return { key: s.key, name: option.attributeName(), negated: option.negate };
  });
  return (opts, env = process.env) => {
    const flags: Partial<Record<SettingKey, unknown>> = {};
    for (const o of options) {
      const v = opts[o.name];
      if (o.negated ? v === false : v !== undefined) flags[o.key] = o.negated ? true : v;
    }
    const loaded = loadSettings(keys, { env, flags });
    if (!loaded.ok) throw new CliError(new ConfigError(loaded.errors).message, configExitCode);
    return loaded.config;
  };
}
