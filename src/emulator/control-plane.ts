// The control plane: a provider's sandbox lifecycle API (create, connect, list,
// delete a sandbox) served locally, so that the official SDKs run unchanged but
// for their endpoint settings. Each sandbox is a process-API emulator of its own
// (own working directory, processes and token); deleting it stops everything in it.
// Each provider's own control plane lives in that provider's folder (see the registry).
import { DEFAULT_ISOLATION, serverSettings, type EmulatorOptions, type RunningEmulator } from './emulator.js';
import { serveOperations, type ServeOptions } from './http.js';
import type { Instance } from './instance.js';
import { stopOnSignals } from './signals.js';

/** A started control plane: a RunningEmulator of the sandbox lifecycle API, plus the official SDK's settings. */
export interface RunningControlPlane extends RunningEmulator {
  /**
   * What to set so that the provider's official SDK uses this control plane:
   * environment variables (or SDK options) with their values, in the order a user
   * sets them (the provider's API URL, its key). The API key is among them.
   */
  readonly settings: Readonly<Record<string, string>>;
}

/** What a provider's control plane hands serveControlPlane(): its instance, its sandboxes, its HTTP surface. */
export interface ControlPlaneParts<Extra extends object> {
  provider: RunningEmulator['provider'];
  id: string;
  token: string;
  /** From claimInstance(): the directory, and its release once everything has stopped. */
  instance: Pick<Instance, 'workdir' | 'release'>;
  sandboxes: { stopAll(): Promise<void> };
  /** The server's operations, handlers and auth; port and limits come from `options`. */
  serve: Omit<ServeOptions, 'port' | 'maxBodyBytes' | 'keepAliveMs' | 'maxConnections'>;
  options: EmulatorOptions;
  /** The settings, variables and anything else the provider's control plane shows, once its URL is known. */
  describe(baseUrl: string): { settings: Record<string, string>; env: Record<string, string> } & Extra;
}

/**
 * Serves a control plane and returns it running. stop() stops every sandbox before
 * it closes the server (a sandbox's open streams would hold the server's close), then
 * releases the instance; signals stop it too unless `handleSignals` is false. Each
 * sandbox's children die with this process anyway (each emulator's exit hook and reaper).
 */
export async function serveControlPlane<Extra extends object>(parts: ControlPlaneParts<Extra>): Promise<RunningControlPlane & Extra> {
  const { instance, sandboxes, options } = parts;
  let server;
  try {
    server = await serveOperations({ ...parts.serve, ...serverSettings(options) });
  } catch (error) {
    await instance.release();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  let releaseSignals = () => {};
  const running: RunningControlPlane & Extra = {
    ...parts.describe(server.baseUrl),
    provider: parts.provider,
    baseUrl: server.baseUrl,
    token: parts.token,
    id: parts.id,
    workdir: instance.workdir,
    // The control plane runs no program itself: each sandbox is confined (or not) as `options.isolation` says, and reports it.
    isolation: { mode: options.isolation ?? DEFAULT_ISOLATION, confined: false, note: 'the control plane runs no process itself; each sandbox is set up with this mode' },
    stop() {
      stopping ??= (async () => {
        await sandboxes.stopAll();
        await server.close();
        await instance.release();
        releaseSignals();
      })();
      return stopping;
    },
  };
  if (options.handleSignals !== false) releaseSignals = stopOnSignals({ stop: () => running.stop(), killNow: () => {} });
  return running;
}
