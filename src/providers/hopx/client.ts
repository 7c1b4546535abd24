// HopX's VM agent process API, in the vocabulary of its own SDKs.
import type { components, operations as Operations, paths } from '../../../generated/hopx.js';
import { operations } from '../../../generated/hopx.operations.js';
import { ValidationError } from '../../errors.js';
import { createTransport, type ClientOptions } from '../../core/transport.js';

export type HopxProcessId = components['schemas']['ProcessId'];
export type HopxKillResult = Operations['kill_process']['responses'][200]['content']['application/json'];

/**
 * The three kill requests found in the wild (see specs/hopx.yaml, x-forms):
 * - `body`: DELETE /execute/kill with `{"process_id"}` (the docs; default)
 * - `query`: DELETE /execute/kill?process_id= (HopX's agent spec)
 * - `path`: POST /execute/kill/{process_id} (both HopX SDKs)
 */
export type HopxKillForm = 'body' | 'query' | 'path';
export const HOPX_KILL_FORMS: readonly HopxKillForm[] = ['body', 'query', 'path'];

export interface HopxClientOptions extends ClientOptions {
  /** The kill form used when a call names none. Default `body`. */
  killForm?: HopxKillForm;
}

export interface HopxProcesses {
  /** Kill a background process. Throws NotFoundError when it is unknown or already finished. */
  kill(processId: HopxProcessId, options?: { form?: HopxKillForm }): Promise<HopxKillResult>;
}

export interface HopxClient {
  readonly provider: 'hopx';
  readonly processes: HopxProcesses;
}

export function hopxSandboxHost(sandbox: string): string {
  return `https://${sandbox}.hopx.dev`;
}

export function createHopxClient(options: HopxClientOptions): HopxClient {
  const defaultForm = checkForm(options.killForm ?? 'body', 'createClient');
  const { api, call } = createTransport<paths, typeof operations>('hopx', operations, options, hopxSandboxHost);
  return {
    provider: 'hopx',
    processes: {
      async kill(processId, killOptions) {
        const form = checkForm(killOptions?.form ?? defaultForm, 'kill_process');
        const process_id = processId;
        switch (form) {
          case 'body':
            return call<HopxKillResult>('kill_process', { body: { process_id } }, (init) =>
              api.DELETE('/execute/kill', { body: { process_id }, ...init }),
            );
          case 'query':
            return call<HopxKillResult>('kill_process', { query: { process_id } }, (init) =>
              api.DELETE('/execute/kill', { params: { query: { process_id } }, ...init }),
            );
          case 'path':
            return call<HopxKillResult>('kill_process_by_path', { path: { process_id } }, (init) =>
              api.POST('/execute/kill/{process_id}', { params: { path: { process_id } }, ...init }),
            );
        }
      },
    },
  };
}

function checkForm(form: unknown, operation: string): HopxKillForm {
  if (HOPX_KILL_FORMS.includes(form as HopxKillForm)) return form as HopxKillForm;
  throw new ValidationError(`kill form must be one of ${HOPX_KILL_FORMS.join(', ')}, got ${String(form)}`, {
    provider: 'hopx',
    operation,
  });
}
