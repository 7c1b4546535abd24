// A HopX sandbox's custom environment variables (the agent's /env): kept per
// emulator instance, so two sandboxes of one control plane never share them,
// and given to every process started afterwards.
import { EMULATOR_MARKER, EMULATOR_RUN_MARKER } from '../../../emulator/reaper.js';

/** Enough for any real use, small enough that one sandbox cannot grow without bound (the body limit caps the bytes). */
export const MAX_ENV_VARS = 1000;

// The markers the reaper finds children by: a user variable must never replace them.
const RESERVED_PREFIX = 'SANDBOX_PROCS_EMULATOR_';
const RESERVED = new Set([EMULATOR_MARKER, EMULATOR_RUN_MARKER]);

/** Why these variables cannot be set, or undefined when they can. */
function refusal(vars: Readonly<Record<string, string>>): string | undefined {
  for (const name of Object.keys(vars)) {
    if (name === '' || name.includes('=')) return `env_vars: ${JSON.stringify(name)} is not a variable name (empty or holds '=')`;
    if (RESERVED.has(name) || name.startsWith(RESERVED_PREFIX)) return `env_vars: ${name} is reserved by the sandbox-procs emulator`;
  }
  return undefined;
}

export interface EnvStore {
  /** A copy of the custom variables. */
  all(): Record<string, string>;
  /** Replaces (or, with `merge`, adds to) the custom variables; returns why not, leaving them as they were. */
  set(vars: Readonly<Record<string, string>>, merge: boolean): string | undefined;
  clear(): void;
}

export function createEnvStore(): EnvStore {
  // A null-prototype map: a variable named __proto__ is a variable like any other.
  let vars: Record<string, string> = Object.create(null);
  return {
    all: () => ({ ...vars }),
    set(given, merge) {
      const why = refusal(given);
      if (why) return why;
      const next = Object.assign(Object.create(null), merge ? vars : {}, given) as Record<string, string>;
      if (Object.keys(next).length > MAX_ENV_VARS) return `env_vars: at most ${MAX_ENV_VARS} variables, got ${Object.keys(next).length}`;
      vars = next;
      return undefined;
    },
    clear() {
      vars = Object.create(null);
    },
  };
}
