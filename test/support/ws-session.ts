// A WebSocket client for the emulator tests (`ws` directly): open a session and
// collect what it sends, or the HTTP answer that refused the upgrade.
import WebSocket from 'ws';

export interface Refused {
  status: number;
  body: unknown;
}

/** Opens `url`; resolves to the open socket, or to the HTTP answer that refused the upgrade. */
export function openSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocket | Refused> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: kept as text
        }
        resolve({ status: res.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.once('error', reject);
  });
}

export async function mustOpen(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const result = await openSocket(url, headers);
  if (!(result instanceof WebSocket)) throw new Error(`the upgrade was refused: ${result.status} ${JSON.stringify(result.body)}`);
  return result;
}

/** Every message until the socket closes, and how it closed. */
export interface Collected {
  messages: Buffer[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once some message satisfies `test` (checked on each new message). */
  until(test: (messages: Buffer[]) => boolean, timeoutMs?: number): Promise<void>;
}

export function collect(ws: WebSocket): Collected {
  const messages: Buffer[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data: Buffer) => {
    messages.push(Buffer.from(data));
    for (const waiter of waiters) waiter();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return {
    messages,
    closed,
    until(test, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        if (test(messages)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out; received: ${messages.map((m) => m.toString()).join('').slice(-500)}`));
        }, timeoutMs);
        const check = () => {
          if (!test(messages)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        void closed.then(check);
      });
    },
  };
}
