// Runs `pointswitch <args>` from source in a child process (the CLI tests spawn this).
import { runCli } from '../../src/cli/main.js';

runCli(['node', 'pointswitch', ...process.argv.slice(2)]).then((code) => { process.exitCode = code; });
