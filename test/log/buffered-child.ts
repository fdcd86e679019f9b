// Child process for log.test.ts: logs through bufferedStdout as the switch does, driven by argv.
import { bufferedStdout, createLogger } from '../../src/log.js';

const out = bufferedStdout(Number(process.argv[2] ?? 100));
const log = createLogger({ destination: out.stream });
if (process.argv[3] === 'exit') {
  // Lines that wait in the buffer when the process exits without stop(): the exit hook writes them.
  for (let n = 0; n < 5; n++) log.info({ n }, 'before exit');
  process.exit(0);
}
log.info({ n: 0 }, 'first');
process.stderr.write('logged\n');   // stderr is unbuffered: the parent times stdout against it
// Stays alive well past the flush delay, then writes a burst smaller than the buffer and stops.
setTimeout(() => {
  for (let n = 1; n <= 100; n++) log.info({ n }, 'burst');
  out.stop();
  log.info({ n: 101 }, 'after stop');   // goes out at once
  process.exitCode = 0;
}, 1000);
