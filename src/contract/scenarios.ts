// THE list of contract scenarios: the vitest contract suite and `sandbox-procs
// check` both run exactly this. Each provider keeps its rows beside its client,
// and the registry (src/registry.ts) says where.
import type { ProviderName } from '../errors.js';
import { providerNames, registry } from '../registry.js';
import type { ControlPlaneContract, ProviderContract, Scenario } from './scenario.js';

const loaded = await Promise.all(providerNames.map(async (name) => [name, await registry[name].contracts()] as const));

export const contracts = Object.fromEntries(loaded.map(([name, c]) => [name, c.processes])) as Record<ProviderName, ProviderContract<any>>;

export const providers = providerNames;

export function scenariosFor(selected: readonly ProviderName[] = providers): Scenario[] {
  return selected.flatMap((provider) => contracts[provider].scenarios);
}

/** The providers whose control plane (sandbox lifecycle API) the emulator target serves and the contract covers. */
export const controlContracts = Object.fromEntries(loaded.flatMap(([name, c]) => (c.control ? [[name, c.control]] : []))) as Partial<
  Record<ProviderName, ControlPlaneContract>
>;

/** The control-plane scenarios of `selected`: they run where a target serves a control plane (the emulator target). */
export function controlScenariosFor(selected: readonly ProviderName[] = providers): Scenario[] {
  return selected.flatMap((provider) => controlContracts[provider]?.scenarios ?? []);
}
