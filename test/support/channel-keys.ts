// The channels' checks in a report (their operation is the channel's key), for suites
// about drift of HTTP operations that leave the channels to their own suites.
import { scenariosFor } from '../../src/contract/scenarios.js';

export const channelKeys: ReadonlySet<string> = new Set(scenariosFor().flatMap((s) => (s.channel ? [s.operation] : [])));
