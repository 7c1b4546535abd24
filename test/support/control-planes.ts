// What a control plane holds, asked through its own list operation (the typed control clients).
import type { ProviderName } from '../../src/errors.js';
import { createHopxControlClient } from '../../src/providers/hopx/control-client.js';
import { createTensorlakeControlClient } from '../../src/providers/tensorlake/control-client.js';

/** The IDs of the sandboxes the control plane at `baseUrl` has now. */
export async function sandboxesAt(provider: ProviderName, controlPlane: { token: string; baseUrl: string }): Promise<string[]> {
  const options = { apiKey: controlPlane.token, baseUrl: controlPlane.baseUrl };
  if (provider === 'hopx') {
    await using control = createHopxControlClient(options);
    return (await control.listSandboxes()).data.map((s) => s.sandbox_id);
  }
  await using control = createTensorlakeControlClient(options);
  return (await control.listSandboxes()).map((s) => s.sandbox_id);
}
