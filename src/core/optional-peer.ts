// Loading an optional peer (`ws`, `@lydell/node-pty`) on first use, shared by the
// client, the emulators and the CLI's channel checks. Each layer passes its own
// importer (a dynamic import of the package), so that the import stays on demand in
// that layer's module (test/package.test.ts reads the import graph), and turns a
// failure into its own error: the client's is typed with provider and operation, the
// CLI's exits 2, the emulator's names the feature.

/**
 * The peer imported once: later calls share the first call's promise. A failed
 * import is forgotten, so that the next call tries again (once the peer is installed).
 */
export function importOnce<T>(importer: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    if (!loading) {
      const attempt = importer();
      loading = attempt;
      attempt.catch(() => {
        if (loading === attempt) loading = undefined;
      });
    }
    return loading;
  };
}

/** Whether an import failed because the package is not installed (not because it broke while loading). */
export function isModuleMissing(error: unknown): boolean {
  return ['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'].includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** A CommonJS package's exports: under ESM, import() hands them over as the default export. */
export function commonJsExports<T>(module: T): T {
  return (module as T & { default?: T }).default ?? module;
}
