/**
 * Calls `gone` once when the process that started this one has ended: this process is then
 * adopted, and its parent id changes. `npm start` runs this under a shell that npm passes SIGTERM
 * to but that does not pass it on, and a parent that is killed outright passes nothing on at all.
 */
export function whenParentGone(gone: () => void, everyInMs = 500): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    gone();
  }, everyInMs);
  timer.unref();
}
