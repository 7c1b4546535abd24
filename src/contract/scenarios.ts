// THE list of contract scenarios: the vitest contract suite and `sandbox-procs
// check` both run exactly this. Each provider keeps its rows beside its client.
import type { ProviderName } from '../errors.js';
import { hopxContract } from '../providers/hopx/contract.js';
import { hopxControlContract } from '../providers/hopx/control-contract.js';
import { tensorlakeContract } from '../providers/tensorlake/contract.js';
import { tensorlakeControlContract } from '../providers/tensorlake/control-contract.js';
import type { ControlPlaneContract, ProviderContract, Scenario } from './scenario.js';

export const contracts: Record<ProviderName, ProviderContract<any>> = {
  tensorlake: tensorlakeContract,
  hopx: hopxContract,
};

export const providers = Object.keys(contracts) as ProviderName[];

export function scenariosFor(selected: readonly ProviderName[] = providers): Scenario[] {
  return selected.flatMap((provider) => contracts[provider].scenarios);
}

/** The providers whose control plane (sandbox lifecycle API) the emulator target serves and the contract covers. */
export const controlContracts: Partial<Record<ProviderName, ControlPlaneContract>> = {
  tensorlake: tensorlakeControlContract,
  hopx: hopxControlContract,
};

/** The control-plane scenarios of `selected`: they run where a target serves a control plane (the emulator target). */
export function controlScenariosFor(selected: readonly ProviderName[] = providers): Scenario[] {
  return selected.flatMap((provider) => controlContracts[provider]?.scenarios ?? []);
}
