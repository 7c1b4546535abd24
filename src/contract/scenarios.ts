// THE list of contract scenarios: the vitest contract suite and `sandbox-procs
// check` both run exactly this. Each provider keeps its rows beside its client.
import type { ProviderName } from '../errors.js';
import { hopxContract } from '../providers/hopx/contract.js';
import { tensorlakeContract } from '../providers/tensorlake/contract.js';
import type { ProviderContract, Scenario } from './scenario.js';

export const contracts: Record<ProviderName, ProviderContract<any>> = {
  tensorlake: tensorlakeContract,
  hopx: hopxContract,
};

export const providers = Object.keys(contracts) as ProviderName[];

export function scenariosFor(selected: readonly ProviderName[] = providers): Scenario[] {
  return selected.flatMap((provider) => contracts[provider].scenarios);
}
