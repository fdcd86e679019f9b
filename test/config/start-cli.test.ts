// `pointswitch start` with bad settings: one readable report of every problem, exit code 2, nothing started.
import t from 'tap';
import { runCli } from '../../src/cli/main.js';

t.test('pointswitch start reports every invalid setting at once and exits 2', async (t) => {
  const saved = { ...process.env };
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.env.ADMIN_PORT = 'eighty';
  process.env.LOG_LEVEL = 'chatty';
  process.stderr.write = ((chunk: string | Uint8Array) => { written.push(String(chunk)); return true; }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await runCli(['node', 'pointswitch', 'start', '--pos-port', '99999', '--frame-bytes-max', '1']);
  } finally {
    process.stderr.write = write;
    process.env = saved;
  }
  t.equal(code, 2);
  const out = written.join('');
  t.match(out, /invalid configuration \(4 problems\)/);
  t.match(out, /posPort from --pos-port \(got "99999"\): must be at most 65535/);
  t.match(out, /adminPort from ADMIN_PORT \(got "eighty"\): must be a whole number/);
  t.match(out, /logLevel from LOG_LEVEL/);
  t.match(out, /frameBytesMax from --frame-bytes-max/);
});
