// The network of a confined sandbox (isolation strict), created through each
// provider's control plane. With internet access its one way out is the egress
// proxy: a loopback canary server of the host is reached neither through it nor
// directly; Tensorlake's deny_out and allow_out hold; an allowed destination (the
// npm registry over HTTPS, the one this machine can reach) is reached. Without
// internet access there is no network at all. The proxy ends with its sandbox.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator } from '../src/emulator/index.js';
import type { RunningControlPlane } from '../src/emulator/control-plane.js';
import { createHopxClient, createTensorlakeClient } from '../src/index.js';
import type { TensorlakeControlPlane } from '../src/providers/tensorlake/emulator/control-plane.js';
import { full } from './support/profile.js';

const bubblewrap = findBubblewrap();
if (full && 'unavailable' in bubblewrap) throw new Error(`the confinement suite needs bubblewrap: ${bubblewrap.unavailable}`);

const REGISTRY = 'registry.npmjs.org';
const PROXY = 'http://127.0.0.1:3128';

/**
 * Speaks to the proxy inside the sandbox by hand (no HTTP client's own proxy rules in the way).
 * `get <url>`: an absolute-form request; `connect <host> <port>`: a CONNECT; `tls <host>`: a CONNECT
 * to 443 and, once established, GET / over TLS; `direct <host> <port>`: a plain TCP connect.
 * Prints one line per answer: its status line, and the proxy's reason where it gave one.
 */
const PROBE = String.raw`
import socket, ssl, sys
kind, args = sys.argv[1], sys.argv[2:]
def answer(sock):
    data = b''
    while b'\r\n\r\n' not in data and len(data) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    return head.split(b'\r\n')[0].decode('latin1'), body.decode('latin1', 'replace').strip()
try:
    if kind == 'direct':
        socket.create_connection((args[0], int(args[1])), timeout=5).close()
        print('direct-connected')
        sys.exit(0)
    sock = socket.create_connection(('127.0.0.1', 3128), timeout=30)
except OSError as error:
    print('unreachable', type(error).__name__)
    sys.exit(0)
if kind == 'get':
    sock.sendall(('GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' % args[0]).encode())
    print('|'.join(answer(sock)))
elif kind == 'connect':
    sock.sendall(('CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n' % (args[0], args[1], args[0], args[1])).encode())
    print('|'.join(answer(sock)))
elif kind == 'tls':
    sock.sendall(('CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n' % (args[0], args[0])).encode())
    status, reason = answer(sock)
    print('|'.join((status, reason)))
    if ' 200 ' in status:
        tls = ssl.create_default_context().wrap_socket(sock, server_hostname=args[0])
        tls.sendall(('GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' % args[0]).encode())
        print('over-tls', answer(tls)[0])
`;

/** The registry over HTTPS from the host itself: the one destination outside this machine that it reaches. */
async function hostReachesRegistry(): Promise<boolean> {
  try {
    const answer = await fetch(`https://${REGISTRY}/`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    return answer.status < 500;
  } catch {
    return false;
  }
}

/** Bound names of the unix sockets listening in this process's network namespace (a name removed from disk stays listed while bound). */
const boundUnixSockets = () => readFileSync('/proc/net/unix', 'utf8');

describe.skipIf('unavailable' in bubblewrap)('a Tensorlake sandbox with isolation strict, through its control plane', () => {
  let cp: TensorlakeControlPlane;
  let canary: Server;
  let canaryPort: number;
  let canaryRequests = 0;
  let registryReachable = false;
  const ids: Record<'open' | 'denying' | 'allowlisted' | 'offline', string> = { open: '', denying: '', allowlisted: '', offline: '' };

  const create = async (network?: object): Promise<string> => {
    const created = await fetch(`${cp.baseUrl}/v1/namespaces/default/sandboxes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cp.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resources: { cpus: 1, memory_mb: 512 }, ...(network && { network }) }),
    });
    expect(created.status).toBe(200);
    const { sandbox_id: id } = (await created.json()) as { sandbox_id: string };
    await writeFile(join(sandbox(id).workdir, 'probe.py'), PROBE);
    return id;
  };
  const sandbox = (id: string) => cp.sandboxes().find((s) => s.id === id)!;
  const clientOf = (id: string) => createTensorlakeClient({ baseUrl: sandbox(id).baseUrl, apiKey: sandbox(id).token });
  const run = async (id: string, script: string): Promise<string> => {
    const client = clientOf(id);
    const { pid } = await client.startProcess({ command: 'bash', args: ['-c', script] });
    let record = await client.getProcess(pid);
    for (const deadline = Date.now() + 60_000; record.status === 'running' && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      record = await client.getProcess(pid);
    }
    return (await client.getOutput(pid)).lines.join('\n');
  };
  const probe = (id: string, ...args: string[]) => run(id, `/usr/bin/python3 probe.py ${args.join(' ')} 2>&1`);

  beforeAll(async () => {
    canary = createServer((_req, res) => {
      canaryRequests++;
      res.end('canary');
    });
    canary.listen(0, '127.0.0.1');
    await once(canary, 'listening');
    canaryPort = (canary.address() as AddressInfo).port;
    registryReachable = await hostReachesRegistry();
    cp = (await startEmulator('tensorlake', { controlPlane: true, isolation: 'strict' })) as TensorlakeControlPlane;
    ids.open = await create();
    ids.denying = await create({ allow_internet_access: true, deny_out: [REGISTRY, '198.51.100.0/24'] });
    ids.allowlisted = await create({ allow_out: [REGISTRY], deny_out: ['0.0.0.0/0'] });
    ids.offline = await create({ allow_internet_access: false, allow_out: [REGISTRY] });
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
    canary?.close();
  });

  it('gives every process the proxy variables, and says what its network is in its info', async () => {
    expect(await run(ids.open, 'echo "$HTTP_PROXY $HTTPS_PROXY $http_proxy $https_proxy $NO_PROXY"')).toBe(`${PROXY} ${PROXY} ${PROXY} ${PROXY} localhost,127.0.0.1,::1`);
    const info = (await clientOf(ids.denying).info()) as { sandbox_procs_isolation?: { network?: unknown } };
    expect(info.sandbox_procs_isolation?.network).toMatchObject({
      internet_access: true,
      proxy: PROXY,
      allow_out: [],
      deny_out: [REGISTRY, '198.51.100.0/24'],
      note: expect.stringContaining('raw TCP, UDP and DNS inside get nowhere'),
    });
  });

  it("reaches no loopback service of the host, neither through the proxy (by any name) nor directly", async () => {
    const output = await run(
      ids.open,
      [
        `get http://127.0.0.1:${canaryPort}/`,
        `get http://localhost:${canaryPort}/`,
        `get http://[::ffff:127.0.0.1]:${canaryPort}/`,
        `connect 127.0.0.1 ${canaryPort}`,
        `connect localhost ${canaryPort}`,
        `connect [::1] ${canaryPort}`,
        `connect 0.0.0.0 ${canaryPort}`,
        `connect 127.1.2.3 ${canaryPort}`,
      ]
        .map((args) => `/usr/bin/python3 probe.py ${args} 2>&1`)
        .join('; ') + `; /usr/bin/python3 probe.py direct 127.0.0.1 ${canaryPort} 2>&1; curl -sS -m 5 http://127.0.0.1:${canaryPort}/ 2>&1 || echo curl-failed`,
    );
    const lines = output.split('\n');
    // Each of the eight refused by the proxy itself, with its reason; the direct attempts find nothing to connect to.
    expect(lines.filter((line) => /^HTTP\/1\.1 403 Forbidden\|.*the host itself/.test(line))).toHaveLength(8);
    expect(output).toMatch(/unreachable ConnectionRefusedError/);
    expect(output).not.toContain('direct-connected');
    expect(output).toContain('curl-failed');
    expect(output).not.toContain('canary');
    expect(canaryRequests).toBe(0);
  });

  it("refuses what deny_out names, by host name and by network, and what a non-empty allow_out leaves out", async () => {
    const denied = await run(ids.denying, `/usr/bin/python3 probe.py connect ${REGISTRY} 443; /usr/bin/python3 probe.py connect 198.51.100.7 443; /usr/bin/python3 probe.py get http://198.51.100.9/`);
    expect(denied.split('\n')).toEqual([
      `HTTP/1.1 403 Forbidden|sandbox-procs egress proxy: ${REGISTRY} is in deny_out`,
      'HTTP/1.1 403 Forbidden|sandbox-procs egress proxy: 198.51.100.7 (198.51.100.7) is in deny_out',
      'HTTP/1.1 403 Forbidden|sandbox-procs egress proxy: 198.51.100.9 (198.51.100.9) is in deny_out',
    ]);
    expect(await probe(ids.allowlisted, 'connect', '203.0.113.9', '443')).toMatch(/^HTTP\/1\.1 403 Forbidden\|.*203\.0\.113\.9/);
  });

  it('reaches an allowed destination: the npm registry over HTTPS, through CONNECT (allow_out winning over deny_out)', async ({ skip }) => {
    skip(!registryReachable, `this machine cannot reach https://${REGISTRY} itself, so no sandbox of it can`);
    for (const id of [ids.open, ids.allowlisted]) {
      const output = await probe(id, 'tls', REGISTRY);
      expect(output).toMatch(/^HTTP\/1\.1 200 Connection Established\|\nover-tls HTTP\/1\.1 \d{3} /);
    }
    // And with an ordinary client that follows HTTPS_PROXY, as a program in the sandbox would.
    expect(await run(ids.open, `curl -sS -m 20 -o /dev/null -w '%{http_code}' https://${REGISTRY}/ 2>&1`)).toMatch(/^[234]\d\d$/);
  });

  it('has no network at all without internet access, whatever allow_out says', async () => {
    const output = await run(ids.offline, 'echo "proxy:[$HTTPS_PROXY$HTTP_PROXY]"; ls /run; /usr/bin/python3 probe.py connect registry.npmjs.org 443 2>&1');
    expect(output.split('\n')).toEqual(['proxy:[]', 'unreachable ConnectionRefusedError']);
    const info = (await clientOf(ids.offline).info()) as { sandbox_procs_isolation?: { network?: unknown } };
    expect(info.sandbox_procs_isolation?.network).toEqual({ internet_access: false, note: expect.stringContaining('no network at all') });
  });

  it('ends its proxy with the sandbox', async () => {
    const socket = join(sandbox(ids.open).workdir, '.sandbox-procs-egress.sock');
    // Bound (its name on disk is gone: the sandbox holds it through its own bind), and nowhere in the sandbox's /workspace.
    expect(boundUnixSockets()).toContain(socket);
    expect(await run(ids.open, 'ls -A /workspace')).toBe('probe.py');
    const deleted = await fetch(`${cp.baseUrl}/v1/namespaces/default/sandboxes/${ids.open}`, { method: 'DELETE', headers: { authorization: `Bearer ${cp.token}` } });
    expect(deleted.status).toBe(200);
    expect(boundUnixSockets()).not.toContain(socket);
  });
});

describe.skipIf('unavailable' in bubblewrap)('a HopX sandbox with isolation strict, through its control plane', () => {
  let cp: RunningControlPlane;
  const tag = randomBytes(4).toString('hex');

  beforeAll(async () => {
    cp = await startEmulator('hopx', { controlPlane: true, isolation: 'strict' });
  }, 60_000);
  afterAll(async () => {
    await cp?.stop();
  });

  const create = async (body: object) => {
    const created = await fetch(`${cp.baseUrl}/v1/sandboxes`, {
      method: 'POST',
      headers: { 'x-api-key': cp.token, 'content-type': 'application/json' },
      body: JSON.stringify({ template_name: 'code-interpreter', ...body }),
    });
    expect(created.status).toBe(201);
    const { public_host: baseUrl, auth_token: apiKey } = (await created.json()) as { public_host: string; auth_token: string };
    return createHopxClient({ baseUrl, apiKey });
  };
  const script = `echo "${tag} proxy:[$HTTPS_PROXY]"; (echo > /dev/tcp/127.0.0.1/3128) 2>/dev/null && echo relay-open || echo relay-closed`;

  it('has internet access through the proxy by default, and no network at all with internet_access false', async () => {
    const online = await (await create({})).runCode({ code: script, language: 'bash', timeout: 30 });
    expect(online.stdout?.trim().split('\n')).toEqual([`${tag} proxy:[${PROXY}]`, 'relay-open']);
    const offline = await (await create({ internet_access: false })).runCode({ code: script, language: 'bash', timeout: 30 });
    expect(offline.stdout?.trim().split('\n')).toEqual([`${tag} proxy:[]`, 'relay-closed']);
  });
});
