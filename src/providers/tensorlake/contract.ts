// Tensorlake's part of the contract scenarios: how to call each operation and
// which statuses to expect. One row per declared (operation, status).
import type { ProviderContract, Scenario } from '../../contract/scenario.js';
import { createTensorlakeClient, type TensorlakeClient } from './client.js';

const kill = { provider: 'tensorlake', operation: 'sandbox_process_kill', input: { pid: 42 } } as const;

const scenarios: Scenario[] = [
  { ...kill, status: 204, expect: 'result' },
  { ...kill, status: 401, credentials: 'missing', expect: 'AuthenticationError' },
  { ...kill, status: 404, expect: 'NotFoundError' },
  { ...kill, status: 500, expect: 'ServerError' },
];

export const tensorlakeContract: ProviderContract<TensorlakeClient> = {
  provider: 'tensorlake',
  createClient: createTensorlakeClient,
  async invoke(client, operation, input) {
    switch (operation) {
      case 'sandbox_process_kill':
        return client.processes.kill(input.pid as number);
      default:
        throw new Error(`tensorlake: no contract adapter for ${operation}`);
    }
  },
  scenarios,
};
