// `pointswitch start`: the switch. Settings come from the environment and these flags (flags win); every
// invalid one is reported at once. SIGTERM/SIGINT stop it gracefully.
import type { Command } from 'commander';
import { CliError } from './errors.js';
import { commandConfig } from './settings.js';

export function register(program: Command): void {
  const cmd = program.command('start')
    .description('run the switch: POS terminals on TCP (default 8583), admin HTTP (default 8080: /health, /metrics, /docs)');
  const configOf = commandConfig(cmd);
  cmd.action(async (opts: Record<string, unknown>) => {
    const config = configOf(opts);
    const { startApp } = await import('../app.js');
    const { takeOverStopSignals } = await import('../db/embedded.js');
    const app = await startApp({ config, defaultMetrics: true }).catch((err: unknown) => {
      throw new CliError(`could not start: ${err instanceof Error ? err.message : String(err)}`);
    });
    await new Promise<void>((resolve) => {
      let stopping = false;
      const onSignal = (signal: string) => {
        // A second signal does not cut the stop short (Node's default would kill the process and leave an
        // embedded Postgres behind): in-flight requests get at most shutdownGraceMs anyway.
        if (stopping) {
          process.stderr.write(`pointswitch: ${signal} again; already shutting down (at most ${config.shutdownGraceMs} ms for requests in flight; SIGKILL stops at once)\n`);
          return;
        }
        stopping = true;
        process.stderr.write(`pointswitch: ${signal}, shutting down\n`);
        const done = () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve();
        };
        app.stop().then(done, (err: unknown) => {
          process.stderr.write(`pointswitch: shutdown failed: ${String(err)}\n`);
          process.exitCode = 1;
          done();
        });
      };
      takeOverStopSignals();
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
  });
}
