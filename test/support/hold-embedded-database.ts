/**
 * A second process for the lock tests: opens the embedded database in the DATA_DIR given as its argument,
 * says "holding" on stdout, and keeps it open until it is killed.
 */
import { connectDatabase } from '../../src/db/connect';

connectDatabase({ dataDir: process.argv[2], poolSize: 1, migrate: false }).then(
  () => {
    process.stdout.write('holding\n');
    setInterval(() => undefined, 60_000);
  },
  (error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  },
);
