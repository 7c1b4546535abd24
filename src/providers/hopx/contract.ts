// HopX's part of the contract scenarios: every declared status of every kill
// form, so the check tells which forms an agent honours.
import type { ProviderContract, Scenario } from '../../contract/scenario.js';
import { createHopxClient, type HopxClient, type HopxKillForm } from './client.js';

function killScenarios(operation: string, form: HopxKillForm, statuses: Array<[number, Scenario['expect']]>): Scenario[] {
  return statuses.map(([status, expect]) => ({
    provider: 'hopx',
    operation,
    input: { process_id: 'proc_abc123', form },
    status,
    expect,
    ...(status === 401 ? { credentials: 'missing' as const } : {}),
  }));
}

const docsFormStatuses: Array<[number, Scenario['expect']]> = [
  [200, 'result'],
  [400, 'InvalidRequestError'],
  [401, 'AuthenticationError'],
  [404, 'NotFoundError'],
];

const scenarios: Scenario[] = [
  ...killScenarios('kill_process', 'body', docsFormStatuses),
  ...killScenarios('kill_process', 'query', docsFormStatuses),
  ...killScenarios('kill_process_by_path', 'path', [
    [200, 'result'],
    [401, 'AuthenticationError'],
    [404, 'NotFoundError'],
  ]),
];

export const hopxContract: ProviderContract<HopxClient> = {
  provider: 'hopx',
  createClient: createHopxClient,
  async invoke(client, operation, input) {
    switch (operation) {
      case 'kill_process':
      case 'kill_process_by_path':
        return client.processes.kill(input.process_id as string, { form: input.form as HopxKillForm });
      default:
        throw new Error(`hopx: no contract adapter for ${operation}`);
    }
  },
  scenarios,
};
