// HopX's part of the provider-neutral sandbox handle (../../sandbox.ts): create a
// sandbox through the control plane, or connect to one by ID, as an open sandbox.
import type { ProviderSandboxes } from '../../sandbox.js';
import { connectHopxSandbox } from './connect.js';
import { createHopxControlClient, type HopxControlClient } from './control-client.js';

const TEMPLATE = 'code-interpreter';

export const hopxSandboxes: ProviderSandboxes = {
  async create(control, options, spec) {
    const client = createHopxControlClient(control);
    try {
      const known = await client.createSandbox({ template_name: spec.template ?? TEMPLATE, ...(spec.timeoutSeconds !== undefined && { timeout_seconds: spec.timeoutSeconds }) });
      return await open(client, options, known.sandbox_id, known);
    } catch (error) {
      await client.close();
      throw error;
    }
  },
  async connect(control, options, id) {
    const client = createHopxControlClient(control);
    try {
      return await open(client, options, id);
    } catch (error) {
      await client.close();
      throw error;
    }
  },
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
