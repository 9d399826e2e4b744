/**
 * Preloaded into the processes the topology starts (`node --import tsx --import ./scripts/exitWithParent.ts …`):
 * the parent holds a pipe on the child's stdin, and when it closes (the parent ended, however it ended)
 * the child gets SIGTERM from itself, so its own clean stop runs. Without it a test killed half-way would
 * leave app instances holding ports and database connections. Started only with TOPOLOGY_CHILD=1.
 */
if (process.env.TOPOLOGY_CHILD === '1') {
  const stop = (): void => void process.kill(process.pid, 'SIGTERM');
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  // The pipe must not keep an otherwise finished process alive.
  (process.stdin as unknown as { unref?: () => void }).unref?.();
}
