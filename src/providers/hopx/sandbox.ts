// HopX's part of the provider-neutral sandbox handle (../../sandbox.ts): create a
// sandbox through the control plane, or connect to one by ID, as an open sandbox.
import { closedOnFailure } from '../../core/closed-on-failure.js';
import type { ProviderSandboxes } from '../../sandbox.js';
import { connectHopxSandbox } from './connect.js';
import { createHopxControlClient, type HopxControlClient } from './control-client.js';

const TEMPLATE = 'code-interpreter';

export const hopxSandboxes: ProviderSandboxes = {
  create: (control, options, spec) =>
    closedOnFailure(createHopxControlClient(control), async (client) => {
      const known = await client.createSandbox({ template_name: spec.template ?? TEMPLATE, ...(spec.timeoutSeconds !== undefined && { timeout_seconds: spec.timeoutSeconds }) });
      return open(client, options, known.sandbox_id, known);
    }),
  connect: (control, options, id) => closedOnFailure(createHopxControlClient(control), (client) => open(client, options, id)),
};

async function open(control: HopxControlClient, options: Parameters<ProviderSandboxes['connect']>[1], id: string, known?: Awaited<ReturnType<HopxControlClient['createSandbox']>>) {
  const { proxyUrl: _tensorlakeOnly, ...clientOptions } = options;
  const client = await connectHopxSandbox({ ...clientOptions, sandboxId: id, control, ...(known && { known }) });
  return {
    id,
    processes: client.processes,
    delete: () => control.deleteSandbox(id),
    async close() {
      await client.close();
      await control.close();
    },
  };
}
