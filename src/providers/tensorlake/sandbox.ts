// Tensorlake's part of the provider-neutral sandbox handle (../../sandbox.ts):
// create a sandbox through the control plane, or connect to one by ID, as an open sandbox.
import { closedOnFailure } from '../../core/closed-on-failure.js';
import type { ProviderSandboxes } from '../../sandbox.js';
import { connectTensorlakeSandbox } from './connect.js';
import { createTensorlakeControlClient, type TensorlakeControlClient } from './control-client.js';

/** The smallest sandbox the SDKs' examples create. */
const DEFAULT_CPUS = 1;
const DEFAULT_MEMORY_MB = 512;

export const tensorlakeSandboxes: ProviderSandboxes = {
  create: (control, options, spec) =>
    closedOnFailure(createTensorlakeControlClient(control), async (client) => {
      const created = await client.createSandbox({
        resources: { cpus: spec.cpus ?? DEFAULT_CPUS, memory_mb: spec.memoryMb ?? DEFAULT_MEMORY_MB },
        ...(spec.timeoutSeconds !== undefined && { timeout_secs: spec.timeoutSeconds }),
      });
      return open(client, options, created.sandbox_id);
    }),
  connect: (control, options, id) => closedOnFailure(createTensorlakeControlClient(control), (client) => open(client, options, id)),
};

async function open(control: TensorlakeControlClient, options: Parameters<ProviderSandboxes['connect']>[1], id: string) {
  const client = await connectTensorlakeSandbox({ ...options, sandboxId: id, control });
  return {
    id,
    processes: client.processes,
    delete: () => control.deleteSandbox(client.sandboxId),
    async close() {
      await client.close();
      await control.close();
    },
  };
}
