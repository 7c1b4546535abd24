// Hostile programs, submitted through each provider's API to an emulator started
// with isolation 'strict': every escape the 2026-12-05 probe made is refused. A
// canary file, a foreign process and a loopback server of the host stay untouched
// and unseen; another sandbox's files, the emulator's key and the host's secrets
// are unreachable; the process and memory caps hold at the requested values; and
// nothing the sandbox started outlives it, whether it is stopped or SIGKILLed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../src/emulator/index.js';
import type { ProviderName } from '../src/errors.js';
import { createHopxClient, createTensorlakeClient } from '../src/index.js';
import type { TensorlakeControlPlane } from '../src/providers/tensorlake/emulator/control-plane.js';
import { full } from './support/profile.js';
import { isAlive, waitFor } from './support/processes.js';

const bubblewrap = findBubblewrap();
// CI installs bubblewrap (.ci/run): there, a machine without it is a failure, not a skip.
if (full && 'unavailable' in bubblewrap) throw new Error(`the confinement suite needs bubblewrap: ${bubblewrap.unavailable}`);

/** Runs a bash script in the emulator's sandbox through the provider's own API; its output and exit code. */
async function runIn(provider: ProviderName, emulator: RunningEmulator, script: string): Promise<{ output: string; exitCode: number | null; signal: number | null }> {
  if (provider === 'hopx') {
    const result = await createHopxClient({ baseUrl: emulator.baseUrl, apiKey: emulator.token }).runCode({ code: script, language: 'bash', timeout: 30 });
    return { output: `${result.stdout ?? ''}${result.stderr ?? ''}`, exitCode: result.exit_code ?? null, signal: null };
  }
  const client = createTensorlakeClient({ baseUrl: emulator.baseUrl, apiKey: emulator.token });
  const { pid } = await client.startProcess({ command: 'bash', args: ['-c', script] });
  let record = await client.getProcess(pid);
  for (const deadline = Date.now() + 30_000; record.status === 'running' && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    record = await client.getProcess(pid);
  }
  return { output: (await client.getOutput(pid)).lines.join('\n'), exitCode: record.exit_code ?? null, signal: record.signal ?? null };
}

describe.skipIf('unavailable' in bubblewrap).each(['tensorlake', 'hopx'] as const)('a %s sandbox with isolation strict', (provider) => {
  const tag = randomBytes(6).toString('hex');
  let a: RunningEmulator;
  let b: RunningEmulator;
  let hostDir: string;
  let canaryFile: string;
  let canaryProcess: ChildProcess;
  let server: ReturnType<typeof createServer>;
  let port: number;
  let connections = 0;
  const start = (options: EmulatorOptions = {}) => startEmulator(provider, { isolation: 'strict', ...options });

  beforeAll(async () => {
    [a, b] = await Promise.all([start(), start()]);
    hostDir = await mkdtemp(join(tmpdir(), 'sandbox-procs-host-'));
    canaryFile = join(hostDir, 'canary.txt');
    await writeFile(canaryFile, `host canary ${tag}\n`, { mode: 0o600 });
    await writeFile(join(b.workdir, 'b-secret.txt'), `sandbox b ${tag}\n`);
    canaryProcess = spawn('sleep', ['120'], { stdio: 'ignore', detached: true });
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    server?.close();
    if (canaryProcess?.pid) process.kill(canaryProcess.pid, 'SIGKILL');
    if (hostDir) await rm(hostDir, { recursive: true, force: true });
  });

  it('says it is confined, and runs in /workspace, its own directory', async () => {
    expect(a.isolation).toMatchObject({ mode: 'strict', confined: true });
    // Its info answer says so too (the specs' EmulatorIsolation), with the process cap in force.
    const path = provider === 'hopx' ? '/info' : '/api/v1/info';
    const info = (await (await fetch(`${a.baseUrl}${path}`, { headers: { authorization: `Bearer ${a.token}` } })).json()) as { sandbox_procs_isolation?: unknown };
    expect(info.sandbox_procs_isolation).toMatchObject({ mode: 'strict', confined: true, limits: { max_processes: 256 } });
    const { output } = await runIn(provider, a, 'pwd; echo hello > made-here.txt');
    expect(output.trim()).toBe('/workspace');
    expect(await readFile(join(a.workdir, 'made-here.txt'), 'utf8')).toBe('hello\n');
  });

  it("sees none of the host's files: a canary, home directories, secrets, another sandbox's directory", async () => {
    const { output } = await runIn(
      provider,
      a,
      [
        `cat ${canaryFile} 2>&1; echo tampered >> ${canaryFile} 2>&1; rm -f ${canaryFile} 2>&1`,
        `cat ${join(b.workdir, 'b-secret.txt')} 2>&1`,
        'ls /root /home 2>&1; cat /etc/shadow 2>&1; touch /etc/probe 2>&1; touch /usr/probe 2>&1',
        'echo "tmp-entries:$(ls -A /tmp | wc -l)"',
      ].join('; '),
    );
    expect(output).not.toContain(tag);
    expect(output).toMatch(/\/etc\/shadow: Permission denied/);
    expect(output).toMatch(/\/etc\/probe'?: Read-only file system/);
    expect(await readFile(canaryFile, 'utf8')).toBe(`host canary ${tag}\n`);
    expect(output).toContain('tmp-entries:0');
  });

  it("sees and signals no process outside it, and reads neither the emulator's environment nor its key", async () => {
    const { output } = await runIn(
      provider,
      a,
      [
        `kill -9 ${canaryProcess.pid} 2>&1 || echo could-not-kill`,
        `kill -0 ${process.pid} 2>&1 || echo no-emulator`,
        'echo "processes:$(ps -e -o pid= | wc -l)"',
        // Each key in two halves, joined only in the shell, so that this script's own command line holds neither.
        `a1='${a.token.slice(0, 10)}'; a2='${a.token.slice(10)}'; b1='${b.token.slice(0, 10)}'; b2='${b.token.slice(10)}'`,
        // The patterns go to grep in a file: on its command line, grep would find them in its own /proc entry.
        `printf '%s%s\\n%s%s\\n' "$a1" "$a2" "$b1" "$b2" > /tmp/keys`,
        `echo "keys-found:$(cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c -F -f /tmp/keys)"`,
      ].join('; '),
    );
    expect(output).toContain('could-not-kill');
    expect(output).toContain('no-emulator');
    expect(isAlive(canaryProcess.pid!)).toBe(true);
    const processes = Number(/processes:\s*(\d+)/.exec(output)?.[1]);
    const tokens = Number(/keys-found:(\d+)/.exec(output)?.[1]);
    // bwrap, the spawner, the shell and ps (and the agent's interpreter): a handful, never the host's hundreds.
    expect(processes).toBeLessThan(10);
    expect(tokens).toBe(0);
  });

  it("reaches no loopback service of the host, the emulator's own port included, and has no network", async () => {
    const emulatorPort = new URL(a.baseUrl).port;
    const { output } = await runIn(
      provider,
      a,
      `(echo > /dev/tcp/127.0.0.1/${port}) 2>&1 && echo reached-host; (echo > /dev/tcp/127.0.0.1/${emulatorPort}) 2>&1 && echo reached-emulator; ls /sys/class/net 2>/dev/null | tr '\\n' ' '`,
    );
    expect(output).not.toContain('reached-');
    expect(connections).toBe(0);
  });

  it('ends a fork storm at its process cap, and the emulator stays responsive', async () => {
    const capped = await start({ sandboxLimits: { maxProcesses: 20 } });
    try {
      expect(capped.isolation.limits).toMatchObject({ maxProcesses: 20 });
      // Python, not bash: bash retries a refused fork for seconds. Each child sleeps; the count is of forks that worked.
      const storm = 'import os, time\nn = 0\nfor i in range(60):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n    n += 1\nprint("forked", n, flush=True)';
      const { output } = await runIn(provider, capped, `/usr/bin/python3 -c '${storm}'`);
      const running = Number(/forked (\d+)/.exec(output)?.[1]);
      expect(running).toBeGreaterThan(5);
      expect(running).toBeLessThanOrEqual(20);
      // The emulator answers at once while the storm holds the cap; other sandboxes are unaffected.
      const listed = provider === 'hopx' ? createHopxClient({ baseUrl: capped.baseUrl, apiKey: capped.token }).listProcesses() : createTensorlakeClient({ baseUrl: capped.baseUrl, apiKey: capped.token }).listProcesses();
      await expect(listed).resolves.toBeDefined();
      expect((await runIn(provider, a, 'echo still-here')).output).toContain('still-here');
    } finally {
      await capped.stop();
    }
  });

  it('kills a program that goes over its memory cap, and lets one under it run', async () => {
    const capped = await start({ sandboxLimits: { memoryBytes: 64 * 1024 * 1024 } });
    try {
      if (capped.isolation.limits?.memoryBytes === undefined) return void expect(capped.isolation.note).toBeDefined();
      const under = await runIn(provider, capped, 'head -c 16777216 /dev/zero | tail -c 16777216 | wc -c');
      expect(under.output.trim()).toBe('16777216');
      // ulimit -v is a backstop: without the cgroup, tail would end at 512 MiB with an error, not SIGKILL.
      const over = await runIn(provider, capped, 'ulimit -v 524288; tail /dev/zero; echo "tail ended with $?"');
      expect(over.output).toMatch(/tail ended with 137|Killed/);
    } finally {
      await capped.stop();
    }
  });

  it('leaves nothing behind when it stops: an escapee that left its group and cleared its environment ends too', async () => {
    const doomed = await start();
    const marker = `sandbox-procs-escapee-${tag}`;
    // The script waits until its child has left the group: a process that exits has its group killed, and that child with it.
    await runIn(
      provider,
      doomed,
      // The name in two halves (joined only by the escapee's exec and in a pattern file), so that no other command line holds it whole.
      `m1='${marker.slice(0, 8)}'; m2='${marker.slice(8)}'; printf '%s%s\\n' "$m1" "$m2" > /tmp/name; ` +
        `setsid env -i bash -c 'exec -a "$0$1" sleep 300' "$m1" "$m2" < /dev/null > /dev/null 2>&1 & ` +
        `for i in {1..200}; do grep -qsF -f /tmp/name /proc/[0-9]*/cmdline && break; sleep 0.05; done; echo started`,
    );
    const escapees = () => hostProcessesNamed(marker);
    expect(await waitFor(() => escapees().length === 1, 15_000)).toBe(true);
    await doomed.stop();
    expect(await waitFor(() => escapees().length === 0, 15_000)).toBe(true);
  });
});

describe.skipIf('unavailable' in bubblewrap)('a confined sandbox whose emulator is SIGKILLed', () => {
  it('dies with it, escapees included (bwrap --die-with-parent)', async () => {
    const bin = join(import.meta.dirname, '..', 'dist', 'src', 'bin.js');
    const cli = spawn(process.execPath, [bin, 'emulate', '--provider', 'tensorlake', '--isolation', 'strict'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    cli.stdout!.on('data', (chunk: Buffer) => (printed += chunk));
    try {
      expect(await waitFor(() => /token: (emu_\w+)/.test(printed), 15_000)).toBe(true);
      const baseUrl = /listening on (http:\S+)/.exec(printed)![1]!;
      const token = /token: (emu_\w+)/.exec(printed)![1]!;
      const marker = `sandbox-procs-orphan-${randomBytes(6).toString('hex')}`;
      await createTensorlakeClient({ baseUrl, apiKey: token }).startProcess({
        command: 'bash',
        args: ['-c', `setsid env -i bash -c 'exec -a ${marker} sleep 300' < /dev/null > /dev/null 2>&1 & exec -a ${marker} sleep 300`],
      });
      expect(await waitFor(() => hostProcessesNamed(marker).length === 2, 15_000)).toBe(true);
      // The sandbox's own cgroup (pids hierarchy), as the kernel names it for the escapee.
      const group = cgroupDirOf(hostProcessesNamed(marker)[0]!);
      if (group) expect(existsSync(group)).toBe(true);
      cli.kill('SIGKILL');
      await once(cli, 'exit');
      expect(await waitFor(() => hostProcessesNamed(marker).length === 0, 15_000)).toBe(true);
      // The reaper, once its owner is gone, removes the group too.
      if (group) expect(await waitFor(() => !existsSync(group), 15_000)).toBe(true);
    } finally {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
    }
  });
});

/** The directory of `pid`'s group in the cgroup v1 pids hierarchy, where the machine has one. */
function cgroupDirOf(pid: number): string | undefined {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((entry) => /^\d+:pids:/.test(entry));
  const path = line?.slice(line.indexOf(':pids:') + ':pids:'.length);
  return path && path.includes('sandbox-procs-') && existsSync('/sys/fs/cgroup/pids') ? join('/sys/fs/cgroup/pids', path) : undefined;
}

/** Host PIDs whose argv[0] is `name` (what `exec -a` sets): how a test finds what a sandbox started, from outside. */
function hostProcessesNamed(name: string): number[] {
  return hostProcessesWhose((argv) => argv[0] === name);
}

/** Live host processes whose argument vector passes `test`. */
function hostProcessesWhose(test: (argv: string[]) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number)) {
    try {
      if (test(readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')) && isAlive(entry)) found.push(entry);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('isolation modes where bubblewrap cannot be found (hidden from PATH)', () => {
  const bin = join(import.meta.dirname, '..', 'dist', 'src', 'bin.js');
  const withoutBwrap = { PATH: '/nonexistent-sandbox-procs-test-dir', NO_COLOR: '1' };
  const run = (isolation: string) => {
    const cli = spawn(process.execPath, [bin, 'emulate', '--provider', 'hopx', '--isolation', isolation], { stdio: ['ignore', 'pipe', 'pipe'], env: withoutBwrap });
    let output = '';
    cli.stdout!.on('data', (chunk: Buffer) => (output += chunk));
    cli.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    return { cli, output: () => output, exited: once(cli, 'exit') };
  };

  it('auto starts, and says on stderr and in its settings that processes run unconfined, with your rights', async () => {
    const { cli, output, exited } = run('auto');
    try {
      expect(await waitFor(() => output().includes('Press Ctrl-C'), 15_000)).toBe(true);
      expect(output()).toMatch(/^isolation: NOT CONFINED: processes run unconfined, with the emulator's rights: bubblewrap \(bwrap\) is not installed/m);
      expect(output()).toMatch(/^warning: processes run unconfined/m);
    } finally {
      cli.kill('SIGTERM');
      await exited;
    }
  });

  it('strict refuses to start: exit 2, one line saying why', async () => {
    const { output, exited } = run('strict');
    const [code] = await exited;
    expect(code).toBe(2);
    expect(output()).toMatch(/^error: could not start the hopx emulator: bubblewrap \(bwrap\) is not installed/m);
    expect(output()).not.toContain('listening on');
  });
});

describe.skipIf('unavailable' in bubblewrap)('a Tensorlake control plane with isolation strict', () => {
  it("gives each sandbox the resources it was created with as caps, says so in the sandbox's info, and delete leaves nothing of it", async () => {
    const cp = (await startEmulator('tensorlake', { controlPlane: true, isolation: 'strict' })) as TensorlakeControlPlane;
    try {
      const created = await fetch(`${cp.baseUrl}/v1/namespaces/default/sandboxes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cp.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ resources: { cpus: 0.5, memory_mb: 96 } }),
      });
      expect(created.status).toBe(200);
      const { sandbox_id: id } = (await created.json()) as { sandbox_id: string };
      const sandbox = cp.sandboxes().find((s) => s.id === id)!;
      const client = createTensorlakeClient({ baseUrl: sandbox.baseUrl, apiKey: sandbox.token });
      const info = (await client.info()) as { sandbox_procs_isolation?: unknown };
      expect(info.sandbox_procs_isolation).toEqual({
        mode: 'strict',
        confined: true,
        limits: { cgroup: expect.any(String), max_processes: 256, memory_bytes: 96 * 1024 * 1024, cpus: 0.5 },
        // Created without a network field: internet access (Tensorlake's default), through the egress proxy (test/confinement-network.test.ts).
        network: { internet_access: true, proxy: 'http://127.0.0.1:3128', allow_out: [], deny_out: [], note: expect.any(String) },
      });

      // The caps hold at the requested values, through the API: a busy loop gets half a core (its CPU
      // time over a second of wall time, read from the host's /proc), and a program that goes past
      // 96 MiB is killed by the kernel, while one under it runs.
      const loop = `while :; do :; done # ${randomBytes(4).toString('hex')}`;
      const busy = await client.startProcess({ command: 'sh', args: ['-c', loop] });
      let busyHost: number | undefined;
      const withLoop = () => hostProcessesWhose((argv) => argv.includes(loop))[0];
      expect(await waitFor(() => (busyHost = withLoop()) !== undefined, 5_000)).toBe(true);
      const cpuSeconds = () => readFileSync(`/proc/${busyHost}/stat`, 'utf8').split(') ')[1]!.split(' ').slice(11, 13).reduce((sum, ticks) => sum + Number(ticks), 0) / 100;
      const [cpuBefore, wallBefore] = [cpuSeconds(), performance.now()];
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const share = (cpuSeconds() - cpuBefore) / ((performance.now() - wallBefore) / 1000);
      expect(share).toBeLessThan(0.6);
      await client.killProcess(busy.pid);
      const within = await client.startProcess({ command: 'sh', args: ['-c', 'head -c 33554432 /dev/zero | tail -c 33554432 | wc -c'] });
      const over = await client.startProcess({ command: 'sh', args: ['-c', 'ulimit -v 524288; exec tail /dev/zero'] });
      const ended = async (pid: number) => {
        let record = await client.getProcess(pid);
        for (const deadline = Date.now() + 30_000; record.status === 'running' && Date.now() < deadline; record = await client.getProcess(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
        return record;
      };
      expect(await ended(within.pid)).toMatchObject({ exit_code: 0 });
      expect((await client.getStdout(within.pid)).lines).toEqual(['33554432']);
      expect(await ended(over.pid)).toMatchObject({ status: 'signaled', signal: 9 });

      const marker = `sandbox-procs-deleted-${randomBytes(6).toString('hex')}`;
      await client.startProcess({ command: 'bash', args: ['-c', `setsid env -i bash -c 'exec -a "$0$1" sleep 300' '${marker.slice(0, 8)}' '${marker.slice(8)}' < /dev/null > /dev/null 2>&1 & exec sleep 300`] });
      expect(await waitFor(() => hostProcessesNamed(marker).length === 1, 15_000)).toBe(true);
      const deleted = await fetch(`${cp.baseUrl}/v1/namespaces/default/sandboxes/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${cp.token}` } });
      expect(deleted.status).toBe(200);
      expect(await waitFor(() => hostProcessesNamed(marker).length === 0, 15_000)).toBe(true);
    } finally {
      await cp.stop();
    }
  });
});
