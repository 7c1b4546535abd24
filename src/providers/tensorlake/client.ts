// Tensorlake's sandbox process API, in the vocabulary of its own SDKs.
import type { operations as Operations, paths } from '../../../generated/tensorlake.js';
import { operations } from '../../../generated/tensorlake.operations.js';
import { createTransport, type ClientOptions } from '../../core/transport.js';

/** The operating system PID of a process in the sandbox (a positive int32). */
export type TensorlakePid = Operations['sandbox_process_kill']['parameters']['path']['pid'];

export type TensorlakeClientOptions = ClientOptions;

export interface TensorlakeProcesses {
  /** SIGKILL the process. Throws NotFoundError when no such process exists. */
  kill(pid: TensorlakePid): Promise<void>;
}

export interface TensorlakeClient {
  readonly provider: 'tensorlake';
  readonly processes: TensorlakeProcesses;
}

export function tensorlakeSandboxHost(sandbox: string): string {
  return `https://${sandbox}.sandbox.tensorlake.ai`;
}

export function createTensorlakeClient(options: TensorlakeClientOptions): TensorlakeClient {
  const { api, call } = createTransport<paths, typeof operations>('tensorlake', operations, options, tensorlakeSandboxHost);
  return {
    provider: 'tensorlake',
    processes: {
      async kill(pid) {
        const params = { path: { pid } };
        await call<void>('sandbox_process_kill', params, (init) => api.DELETE('/api/v1/processes/{pid}', { params, ...init }));
      },
    },
  };
}
