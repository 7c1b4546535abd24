// A real headless Chromium for tests that look at a page: Debian's `chromium`
// package, driven by playwright-core (which downloads no browser of its own).
//
// Each use gets a fresh profile folder and a browser of its own, closed (and the
// folder removed) however the test ends. Without the background-networking
// flags Chromium reaches out to Google's services on start; here it must not
// reach anything. No Chromium is a test failure that says how to install it; the
// explicit opt-out SANDBOX_PROCS_SKIP_BROWSER=1 skips with a loud warning.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const SKIP_BROWSER_ENV = 'SANDBOX_PROCS_SKIP_BROWSER';
/** Where Debian's package puts it; SANDBOX_PROCS_CHROMIUM names another. */
export const CHROMIUM_PATH = process.env.SANDBOX_PROCS_CHROMIUM ?? '/usr/bin/chromium';
export const INSTALL_HINT = 'apt-get install -y --no-install-recommends chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** True when the user opted out explicitly; prints a warning nobody can miss. */
export function browserSkipped(what: string): boolean {
  if (process.env[SKIP_BROWSER_ENV] !== '1') return false;
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\n!! ${SKIP_BROWSER_ENV}=1: SKIPPING ${what}.\n!! No page was rendered in a browser; nothing about how it renders was checked.\n${bar}\n`);
  return true;
}

/** Runs `use` with a fresh browser context (viewport 1280 x 800 unless given), always closed after. */
export async function withBrowser<T>(use: (context: BrowserContext) => Promise<T>, options: { viewport?: { width: number; height: number } } = {}): Promise<T> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install Debian's package (${INSTALL_HINT}), set SANDBOX_PROCS_CHROMIUM to another binary, or opt out with ${SKIP_BROWSER_ENV}=1`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'sandbox-procs-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: FLAGS,
      viewport: options.viewport ?? { width: 1280, height: 800 },
      timeout: 30_000,
    });
    return await use(context);
  } finally {
    await context?.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/** Width and height of a PNG, from its IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.length < 24 || png.toString('latin1', 1, 4) !== 'PNG' || png.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
