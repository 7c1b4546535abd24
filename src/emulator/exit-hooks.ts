// What must run when this process exits (kill children, remove a directory), for
// any number of emulators and sandboxes: one 'exit' listener for all of them, so
// that a control plane with many sandboxes does not trip Node's listener warning.
const hooks = new Set<() => void>();
let listening = false;

function runAll(): void {
  for (const hook of [...hooks]) {
    try {
      hook();
    } catch {
      // an exit hook must not stop the others
    }
  }
}

/** Runs `hook` when the process exits; the returned function takes it back. */
export function onProcessExit(hook: () => void): () => void {
  hooks.add(hook);
  if (!listening) {
    listening = true;
    process.on('exit', runAll);
  }
  return () => {
    hooks.delete(hook);
  };
}
