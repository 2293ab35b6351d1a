/**
 * Runs a command's `main` when its file is the program (not when a test or the `kalos` CLI imports it):
 * a failure prints its message alone (a usage text, a refusal, a broken audit chain) and exits 1.
 */
export function runWhenMain(module: NodeJS.Module, main: () => Promise<void>): void {
  if (require.main !== module) return;
  main().catch((error) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
