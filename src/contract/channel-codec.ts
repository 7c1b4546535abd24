// The text form of a channel's messages (one JSON object per text frame), and the
// output as a person reads it: what a channel check waits for between its steps.
import type { ChannelCodec } from './scenario.js';

/** One JSON text message per message; the output is a message's string `data`. */
export const jsonCodec: ChannelCodec = {
  encode: (message) => JSON.stringify(message),
  decode(data, isBinary) {
    if (isBinary) return { problem: `a binary frame of ${data.length} bytes; the channel sends JSON text`, excerpt: '' };
    const text = data.toString('utf8');
    try {
      return { value: JSON.parse(text) as unknown };
    } catch {
      return { problem: 'not valid JSON', excerpt: text };
    }
  },
  outputOf: (value) => {
    const data = value !== null && typeof value === 'object' ? (value as { data?: unknown }).data : undefined;
    return typeof data === 'string' ? data : '';
  },
};

/** The output's lines as a person reads them: escape sequences (colours, bracketed paste) left out, CR and LF both ending a line. */
export function outputLines(output: string): string[] {
  // eslint-disable-next-line no-control-regex
  return output.replace(/\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g, '').split(/\r\n|\r|\n/);
}
