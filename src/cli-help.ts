// The CLI's help texts: one overview, one page per command.
import { providerNames, registry } from './registry.js';

const PROVIDERS = providerNames.join(' or ');
const TOKEN_VARIABLES = providerNames.map((name) => registry[name].tokenEnv).join(' or ');
const KEY_VARIABLES = providerNames.map((name) => registry[name].apiKeyEnv).join(', ');
const CONTROL_VARIABLES = providerNames.map((name) => registry[name].controlPlaneEnv).join(' or ');
const WITH_PROXY = providerNames.filter((name) => registry[name].sandboxProxyEnv !== undefined);
const PROXY_VARIABLES = WITH_PROXY.map((name) => registry[name].sandboxProxyEnv).join(' or ');

export const HELP = `sandbox-procs: typed process management for Tensorlake and HopX sandboxes

Usage:
  sandbox-procs check   [--target prism|emulator] [--provider NAME]... [--json [FILE]]
                        [--html FILE]
  sandbox-procs drift   --provider NAME (--base-url URL [--token-env VAR]
                        | --api-key-env VAR [--sandbox ID] [--control-plane-url URL]
                        [--proxy-url URL]) [--json FILE] [--junit FILE] [--html FILE]
                        [--allow-mutations] [--timeout-ms N]
  sandbox-procs emulate --provider NAME [--port N] [--token-env VAR | --token T]
                        [--max-running N] [--max-output-bytes N] [--max-body-bytes N]
                        [--control-plane [--token-ttl SECONDS]] [--isolation MODE]
                        [--write-env FILE]
  sandbox-procs help [COMMAND] | --help | --version

Commands:
  check     Run the contract scenarios through the typed client against local
            stand-ins of the providers (Prism mocks or the emulators).
  drift     Check a live sandbox against the spec (with only an API key: a
            throwaway one, deleted after); for CI.
  emulate   Serve a provider's process API locally over real processes.

Run \`sandbox-procs COMMAND --help\` for a command's options and exit codes.
check and drift need optional peer dependencies (ajv, yaml; Prism for check's
default target; ws for drift and the emulator target); emulate and help need none.
Colour is used on a terminal only, and never when NO_COLOR is set.
`;

export const COMMAND_HELP = {
  check: `sandbox-procs check [--target prism|emulator] [--provider NAME]... [--json [FILE]] [--html FILE]

Runs every contract scenario through the typed client, and checks each response
against the spec (status, content type, schema) and the client's typed outcome.

  -t, --target NAME    prism (default): Prism mocks of the bundled specs; every
                       declared status is asked for. emulator: the local
                       emulators over real processes; the scenarios a real
                       server can be brought to answer.
  -p, --provider NAME  ${PROVIDERS}; repeatable. Default: both.
      --json [FILE]    Print the results as JSON instead of a table; with FILE,
                       print the table and write the JSON to FILE. Through npm,
                       \`npm run -s check -- --json\` (-s: no npm banner on stdout).
      --html FILE      Also write a self-contained HTML page: summary, counts per
                       provider, one row per scenario with its request and answer.
  -h, --help           Show this help.

Exit codes: 0 all passed, 1 a scenario failed, 2 the check could not run.
Needs the optional peer dependencies ajv and yaml, and @stoplight/prism-cli
for --target prism (where WebSocket channels are skipped: a mock cannot
upgrade) or ws for --target emulator.
`,
  drift: `sandbox-procs drift --provider NAME --base-url URL [options]
sandbox-procs drift --provider NAME --api-key-env VAR [--sandbox ID] [options]

Checks a live sandbox against the spec: reads, calls that must fail in a
declared way (unknown ids, no credentials, malformed requests), and with
--allow-mutations the scenarios that need processes of its own and a lifecycle
(start, listed, signal, kill, gone). It stops only what it started.

With --api-key-env it needs no sandbox: it creates the smallest one the
provider allows (ending itself after 600 s as a backstop) through the control
plane, checks it and deletes it on every way out: no drift, drift, failure, a
timeout, SIGINT or SIGTERM. The report names the sandbox and says whether it
was deleted.

  -p, --provider NAME   ${PROVIDERS}.
      --base-url URL    The sandbox's base URL: https://, or http:// on loopback
                        (localhost, 127.0.0.1, [::1]); no credentials, query or fragment.
      --token-env VAR   With --base-url: the environment variable that holds the
                        sandbox's token (default ${TOKEN_VARIABLES}).
      --api-key-env VAR Instead of --base-url: the variable that holds the
                        provider's API key (usually ${KEY_VARIABLES}).
      --sandbox ID      With --api-key-env: check this existing sandbox (its host
                        and token, or its routing, found through the control
                        plane) and leave it running, instead of a throwaway one.
      --control-plane-url URL
                        With --api-key-env: the control plane (default
                        ${CONTROL_VARIABLES} when set, else the provider's own).
      --proxy-url URL   ${WITH_PROXY.join(', ')}: the sandbox proxy (default ${PROXY_VARIABLES}
                        when set, else the sandbox's sandbox_url or documented host).
      --json FILE       Write the report as JSON (schema: schemas/drift-report.schema.json).
      --junit FILE      Write JUnit XML, one testcase per check.
      --html FILE       Write a self-contained HTML page (no external assets):
                        summary, per-operation table, kill-form verdicts, and each
                        finding with its request and the start of the response.
      --allow-mutations Also start, signal and kill processes of its own.
      --timeout-ms N    Time limit per request, 1 to 2147483647 (default 10000).
  -h, --help            Show this help.

There is no flag for a token or key itself, and neither (nor a HopX agent token
obtained with the key) appears in any output, raw or escaped (JSON, XML, URL
encoding). One of fewer than 8 characters, or one that is a word the report
itself prints, is refused: hiding it would hide the report.

Every flag is checked before the first request: a --json, --junit or --html file whose
folder does not exist or cannot be written to, a bad --timeout-ms or --base-url
stop it at once (exit 2). The files are created only when the check has run
(exit 0 or 1); a run that could not (exit 2) creates none and leaves an
existing one as it was.

Exit codes: 0 no drift, 1 drift found, 2 could not run (bad flags, token or
key variable not set, a sandbox that could not be created, found or deleted,
unreachable host, reset, timeout, TLS failure, token refused, a report file
that could not be written). A signal exits 128 + its number once the throwaway
sandbox is deleted.
Needs the optional peer dependencies ajv, yaml and ws (the WebSocket channels).
`,
  emulate: `sandbox-procs emulate --provider NAME [--port N] [--token-env VAR] [limits] [--control-plane]
                      [--token-ttl SECONDS] [--isolation MODE] [--write-env FILE]

Serves a provider's process API on 127.0.0.1 over real local processes until
interrupted (Ctrl-C, SIGTERM or SIGHUP), then stops every process it started.
It prints ready-to-paste export lines with the variables the examples and the
official SDK read (HOPX_SANDBOX_URL, TENSORLAKE_API_KEY, ...).

  -p, --provider NAME       ${PROVIDERS}.
      --port N              The port (default: a free one).
      --token-env VAR       Accept the bearer token held in the environment variable VAR
                            (default: a random token, printed).
      --token T             The token itself; other local users can read it in ps, so
                            prefer --token-env (it warns).
      --max-running N       Processes running at once (default 32); past it, a start
                            gets 429 with Retry-After.
      --max-output-bytes N  Captured output kept per process (older lines are dropped).
      --max-body-bytes N    Largest request body (default 1 MiB).
      --control-plane       Also serve the provider's sandbox lifecycle API (create,
                            connect, list, delete), each sandbox an emulator of its
                            own, so the official SDK runs unchanged; prints the
                            settings to point it here.
      --token-ttl SECONDS   HopX control plane: the lifetime of the agent tokens it
                            hands out (default 86400, a day); an agent answers an
                            expired one 401 TOKEN_EXPIRED. A short one tests renewal.
      --isolation MODE      auto (default): each sandbox confined with bubblewrap
                            (own filesystem view with /workspace, PID and network
                            namespaces, a cgroup's caps) where the machine allows
                            it, else a warning that processes run with your
                            rights. strict: confined, or exit 2. none: processes
                            run as its children, with your rights.
      --write-env FILE      Also write the variables it prints as export lines
                            to FILE (NAME=value lines, as node's env-file reads), mode
                            0600, removed when it stops; a file that another
                            program wrote is not replaced.
  -h, --help                Show this help.

Exit codes: 0 stopped cleanly, 2 could not start (a port in use: --port 0 picks a free one).
Needs none of the optional peer dependencies.
`,
} as const;
