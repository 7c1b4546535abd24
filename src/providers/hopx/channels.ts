// HopX's WebSocket channels in the contract scenarios: the agent's /execute/stream
// and /terminal, reached with the agent token as a Bearer header on the upgrade, as
// its other routes are (the official SDK's ws-client). JSON text messages, as the
// AsyncAPI document (specs/hopx.asyncapi.yaml) states them.
import { jsonCodec } from '../../contract/channel-codec.js';
import { channelScenario, type ChannelAdapter, type Scenario } from '../../contract/scenario.js';

const bearer: ChannelAdapter = {
  codec: jsonCodec,
  open: async ({ apiKey, credentials, address }) => ({
    path: address,
    headers: credentials === 'missing' ? {} : ({ Authorization: `Bearer ${apiKey}` } as Record<string, string>),
    secrets: [],
    problems: [],
    close: async () => undefined,
  }),
};

export const hopxChannels: Record<string, ChannelAdapter> = { executeStream: bearer, terminal: bearer };

const execute = (language: string, code: string) => ({ type: 'execute', code, language, timeout: 30 });
/** The stream ends with a successful completion; `hi` must have come out before it. */
const completes = { message: 'StreamCompleteMessage', fields: { success: true } };

export const hopxChannelScenarios: Scenario[] = [
  channelScenario('hopx', 'executeStream', 101, { steps: [{ send: execute('python', 'print("hi")') }, { until: { line: 'hi' } }], ending: completes }, { name: 'python print' }),
  channelScenario('hopx', 'executeStream', 101, { steps: [{ send: execute('bash', 'echo hi') }, { until: { line: 'hi' } }], ending: completes }, { name: 'bash echo' }),
  channelScenario('hopx', 'executeStream', 401, { steps: [] }),
  channelScenario(
    'hopx',
    'terminal',
    101,
    {
      steps: [
        // The prompt first: typed ahead, the echo of the line would come before it.
        { until: { line: '' } },
        { send: { type: 'input', data: 'echo hi\n' } },
        // The command's own line of output (a terminal echoes the typed line too).
        { until: { line: 'hi' } },
        { send: { type: 'resize', cols: 100, rows: 30 } },
        { send: { type: 'input', data: 'exit\n' } },
      ],
      ending: { message: 'TerminalExitMessage', fields: { code: 0 } },
    },
    { name: 'echo, resize, exit' },
  ),
  channelScenario('hopx', 'terminal', 401, { steps: [] }),
];
