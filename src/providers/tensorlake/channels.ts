// Tensorlake's PTY channel in the contract scenarios: a session made over REST
// (POST /api/v1/pty answers its id and token), the WebSocket opened with that token
// in the `token` query and in X-PTY-Token, as the official SDK does (connectPty), and
// the session deleted at the end (204, or 404 once it ended by itself). Binary
// frames (pty-frames.ts), described decoded in specs/tensorlake.asyncapi.yaml.
import { randomBytes } from 'node:crypto';
import { channelScenario, type ChannelAdapter, type ChannelCodec, type Scenario } from '../../contract/scenario.js';
import { decodePtyFrame, encodePtyFrame, type PtyFrame } from './pty-frames.js';

const CREATE = { command: '/bin/sh', rows: 24, cols: 80 };
const MAX_BODY_BYTES = 64 * 1024;

/** The start of a body, at most `maxBytes` of it: a REST answer here is small, and a hostile one must not fill the memory. */
async function readPrefix(response: Response, maxBytes: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (let read = await reader.read(); !read.done && size < maxBytes; read = await reader.read()) {
      chunks.push(read.value);
      size += read.value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

/** Binary frames, described decoded as the schemas do: `data` in base64. */
const ptyFrames: ChannelCodec = {
  encode(message) {
    const described = message as { op: PtyFrame['op']; data?: string };
    return encodePtyFrame((described.op === 'data' ? { op: 'data', data: Buffer.from(described.data ?? '', 'base64') } : described) as PtyFrame);
  },
  decode(data, isBinary) {
    if (!isBinary) return { problem: 'a text frame; the channel sends binary frames', excerpt: data.toString('utf8') };
    const frame = decodePtyFrame(data);
    if ('problem' in frame) return { problem: frame.problem, excerpt: data.subarray(0, 160).toString('hex') };
    return { value: frame.op === 'data' ? { op: 'data', data: Buffer.from(frame.data).toString('base64') } : { ...frame } };
  },
  outputOf: (value) => {
    const frame = value as { op?: unknown; data?: unknown };
    return frame.op === 'data' && typeof frame.data === 'string' ? Buffer.from(frame.data, 'base64').toString('utf8') : '';
  },
};

const ptySession: ChannelAdapter = {
  codec: ptyFrames,
  async open({ baseUrl, apiKey, headers, credentials, address, signal, checkComponent }) {
    const root = baseUrl.replace(/\/+$/, '');
    const auth = { ...headers, Authorization: `Bearer ${apiKey}` };
    const created = await fetch(`${root}/api/v1/pty`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(CREATE), redirect: 'manual', signal });
    const text = await readPrefix(created, MAX_BODY_BYTES);
    if (created.status !== 201) throw new Error(`POST /api/v1/pty answered ${created.status}: ${JSON.stringify(text.slice(0, 200))}`);
    let body: { session_id?: unknown; token?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error('POST /api/v1/pty answered 201 with a body that is not JSON');
    }
    if (typeof body.session_id !== 'string' || typeof body.token !== 'string') throw new Error('POST /api/v1/pty answered 201 without a session_id and token');
    const { session_id: id, token } = body as { session_id: string; token: string };
    const problems = checkComponent('CreatePtySessionResponse', body, 'POST /api/v1/pty body');
    const sent = credentials === 'wrong' ? `sp-wrong-${randomBytes(12).toString('hex')}` : token;
    const path = `${address.replace('{session_id}', encodeURIComponent(id))}${credentials === 'missing' ? '' : `?token=${encodeURIComponent(sent)}`}`;
    return {
      path,
      headers: { Authorization: `Bearer ${apiKey}`, ...(credentials === 'missing' ? {} : { 'X-PTY-Token': sent }) },
      secrets: [token, sent],
      problems,
      async close() {
        const deleted = await fetch(`${root}/api/v1/pty/${encodeURIComponent(id)}`, { method: 'DELETE', headers: auth, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
        await deleted.body?.cancel().catch(() => undefined);
        return deleted.status === 204 || deleted.status === 404 ? undefined : `DELETE /api/v1/pty/{session_id} answered ${deleted.status} (204 or 404 expected)`;
      },
    };
  },
};

export const tensorlakeChannels: Record<string, ChannelAdapter> = { ptySession };

const text = (data: string) => Buffer.from(data, 'utf8').toString('base64');

/** Both make a PTY session: they run only where mutations are allowed. */
export const tensorlakeChannelScenarios: Scenario[] = [
  channelScenario(
    'tensorlake',
    'ptySession',
    101,
    {
      steps: [
        { send: { op: 'ready' } },
        // The prompt first: typed ahead, the echo of the line would come before it ("echo hi\r\n# hi").
        { until: { line: '' } },
        { send: { op: 'data', data: text('echo hi\n') } },
        // The command's own line of output (a terminal echoes the typed line too).
        { until: { line: 'hi' } },
        { send: { op: 'resize', cols: 100, rows: 30 } },
        { send: { op: 'data', data: text('exit\n') } },
      ],
      ending: { close: { code: 1000, reason: 'exit:0' } },
    },
    { name: 'ready, echo, resize, exit' },
  ),
  channelScenario('tensorlake', 'ptySession', 403, { steps: [] }, { credentials: 'wrong' }),
];
