// The README's usage examples, type-checked by `npm test` (tsconfig includes examples/).
import { createHopxClient, createTensorlakeClient, NotFoundError, SandboxProcsError } from 'sandbox-procs';

export async function tensorlakeExample(): Promise<void> {
  const tensorlake = createTensorlakeClient({
    sandbox: 'my-sandbox', // or baseUrl: the sandbox's ingress_endpoint
    apiKey: process.env.TENSORLAKE_API_KEY ?? '',
    timeoutMs: 10_000,
  });
  try {
    await tensorlake.killProcess(4242); // SIGKILL; resolves on 204
  } catch (error) {
    if (error instanceof NotFoundError) return; // already gone
    throw error;
  }
}

export async function hopxExample(): Promise<void> {
  const hopx = createHopxClient({
    baseUrl: 'https://7777-sandbox_abc123xyz.eu.vms.hopx.dev', // the sandbox's public_host
    apiKey: process.env.HOPX_AUTH_TOKEN ?? '',
    killForm: 'path', // the form HopX's SDKs use; the default is the docs' JSON body
  });
  try {
    const killed = await hopx.killProcess('proc_abc123');
    console.log(killed.status, killed.message); // typed from specs/hopx.yaml: status is "killed"
  } catch (error) {
    if (error instanceof SandboxProcsError) {
      console.error(error.provider, error.operation, error.status, error.code, error.requestId);
    }
    throw error;
  }
}
