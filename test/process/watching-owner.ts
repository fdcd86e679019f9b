// An owner for the watchdog test: watches the server given as JSON in argv[2], releases the one in argv[3] at once,
// says so, and runs until it is killed.
import { watchOver } from '../../src/process/watchdog.js';

watchOver(JSON.parse(process.argv[2]!), 'SIGTERM');
watchOver(JSON.parse(process.argv[3]!), 'SIGTERM').release();
setInterval(() => {}, 1000);
process.stdout.write('watching\n');
