// Loaded first into a child process (`node --import` this file; see spawnWithParent) that its parent
// reaches over an IPC channel. However the parent goes (it exits, is stopped by a signal, crashes,
// is killed with SIGKILL), the kernel closes the channel and the child stops, as if sent SIGTERM:
// its own SIGTERM handling (Azurite closes its servers) still runs. A child started any other way
// has no channel, and this does nothing.
if (process.channel) {
  // the channel alone must not keep the child alive once its work is done
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
