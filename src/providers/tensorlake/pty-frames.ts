// The binary frames of a Tensorlake PTY WebSocket (GET /api/v1/pty/{id}/ws): one
// opcode byte, then its payload. The daemon (indexify crates/container-daemon
// http_server.rs, handle_pty_websocket) reads DATA, RESIZE and READY and writes DATA;
// the official SDK (npm tensorlake, dist/index.js PTY_OP_*) also reads EXIT, which
// the daemon at 30e36750 never sends: it ends a session with a close frame instead
// (1000 "exit:<code>", 1001 "session terminated", 1008 on overflow or lag).
// One codec for the client, the emulator and the contract check.

export const PTY_OPCODE = { data: 0, resize: 1, ready: 2, exit: 3 } as const;

export type PtyFrame =
  | { op: 'data'; data: Uint8Array }
  | { op: 'resize'; cols: number; rows: number }
  | { op: 'ready' }
  | { op: 'exit'; code: number };

/** Why a frame could not be read: said in words, for typed errors and drift findings. */
export type PtyFrameProblem = { problem: string };

export function encodePtyFrame(frame: PtyFrame): Buffer {
  switch (frame.op) {
    case 'data':
      return Buffer.concat([Buffer.of(PTY_OPCODE.data), frame.data]);
    case 'resize': {
      const bytes = Buffer.alloc(5);
      bytes[0] = PTY_OPCODE.resize;
      bytes.writeUInt16BE(frame.cols, 1);
      bytes.writeUInt16BE(frame.rows, 3);
      return bytes;
    }
    case 'ready':
      return Buffer.of(PTY_OPCODE.ready);
    case 'exit': {
      const bytes = Buffer.alloc(5);
      bytes[0] = PTY_OPCODE.exit;
      bytes.writeInt32BE(frame.code, 1);
      return bytes;
    }
  }
}

export function decodePtyFrame(bytes: Uint8Array): PtyFrame | PtyFrameProblem {
  if (bytes.length === 0) return { problem: 'an empty frame (no opcode)' };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (view[0]) {
    case PTY_OPCODE.data:
      return { op: 'data', data: view.subarray(1) };
    case PTY_OPCODE.resize:
      return view.length === 5 ? { op: 'resize', cols: view.readUInt16BE(1), rows: view.readUInt16BE(3) } : { problem: `a RESIZE frame of ${view.length} bytes (5 expected)` };
    case PTY_OPCODE.ready:
      return view.length === 1 ? { op: 'ready' } : { problem: `a READY frame of ${view.length} bytes (1 expected)` };
    case PTY_OPCODE.exit:
      return view.length === 5 ? { op: 'exit', code: view.readInt32BE(1) } : { problem: `an EXIT frame of ${view.length} bytes (5 expected)` };
    default:
      return { problem: `an unknown opcode ${view[0]}` };
  }
}

/** The exit code a close frame's reason carries ("exit:<code>"), if it carries one. */
export function exitCodeOfCloseReason(reason: string): number | undefined {
  const match = /^exit:(-?\d+)$/.exec(reason);
  return match ? Number(match[1]) : undefined;
}
