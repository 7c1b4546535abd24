// The variables that point a program at a running emulator (RunningEmulator.env),
// as `emulate` hands them over: `export` lines to paste into a shell, and a
// file (--write-env) in the dotenv form `node --env-file`, `docker --env-file` and
// `set -a; . FILE` read. The file holds the key, so it is the user's alone (0600),
// and it is ours only while we run: written with a header that marks it, refused
// over a file that is not ours, and removed on stop if it still holds what we wrote.
import { readFileSync, rmSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { onProcessExit } from './exit-hooks.js';

const HEADER = '# written by sandbox-procs emulate; removed when it stops';
/** What a shell and a dotenv reader both take unquoted. */
const PLAIN = /^[A-Za-z0-9_./:@%+,=-]*$/;

/** `value` as one shell word: as is when it needs no quoting, else in single quotes. */
function shellWord(value: string): string {
  return PLAIN.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * One `export NAME=value` line per variable. `hidden` is a value that must not be
 * printed (a token the user chose): its line names where it comes from instead
 * (`"$VAR"` when it is in the environment, a comment otherwise).
 */
export function exportLines(env: Readonly<Record<string, string>>, hidden?: { value: string; fromVariable?: string }): string[] {
  return Object.entries(env).map(([name, value]) => {
    if (hidden === undefined || value !== hidden.value) return `export ${name}=${shellWord(value)}`;
    return hidden.fromVariable !== undefined ? `export ${name}="$${hidden.fromVariable}"` : `# export ${name}=<the token given with --token>`;
  });
}

/** The file's text: dotenv lines, double-quoted where a value needs it (dotenv readers take JSON-style escapes there). */
function envFileText(env: Readonly<Record<string, string>>): string {
  const lines = Object.entries(env).map(([name, value]) => `${name}=${PLAIN.test(value) ? value : JSON.stringify(value)}`);
  return `${HEADER}\n${lines.join('\n')}\n`;
}

export class EnvFileError extends Error {}

export interface EnvFile {
  /** Removes the file if it still holds what we wrote (the user may have replaced it). */
  remove(): Promise<void>;
}

/** Writes `env` to `path` (mode 0600), refusing to replace a file that another program wrote. */
export async function writeEnvFile(path: string, env: Readonly<Record<string, string>>, flag = '--write-env'): Promise<EnvFile> {
  let existing: string | undefined;
  try {
    existing = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new EnvFileError(`${flag} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code})`);
  }
  if (existing !== undefined && !existing.startsWith(HEADER)) {
    throw new EnvFileError(`${flag} ${path}: the file exists and was not written by sandbox-procs emulate; choose another file or remove it`);
  }
  const text = envFileText(env);
  try {
    // An existing file of ours keeps its inode; its mode is set again by rewriting under 0600 below.
    if (existing !== undefined) await rm(path, { force: true });
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    throw new EnvFileError(`${flag} ${path}: cannot write it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const stillOurs = (now: string | undefined) => now === text;
  const removeNow = () => {
    try {
      if (stillOurs(readFileSync(path, 'utf8'))) rmSync(path, { force: true });
    } catch {
      // gone already
    }
  };
  // Also on an exit without stop() (an uncaught error): the key does not outlive the emulator on disk.
  const forgetExitHook = onProcessExit(removeNow);
  return {
    async remove() {
      forgetExitHook();
      const now = await readFile(path, 'utf8').catch(() => undefined);
      if (stillOurs(now)) await rm(path, { force: true });
    },
  };
}
