// Every failure a caller can see is one of these. Branch on the subclass (or on
// `status`/`code`); the API key never enters an error, since errors are built only
// from the provider's response and our own messages, never from request headers.

/** The providers this package has a client (and an emulator) for. */
export type ProviderName = 'tensorlake' | 'hopx';

/** What an error is built from; every field but `provider` and `operation` may be unknown. */
export interface ErrorDetails {
  /** The provider whose call failed. */
  provider: ProviderName;
  /** The operation that failed: the spec's operationId (e.g. `sandbox_process_start`), or the method's name when no single request failed (e.g. `createClient`, `waitForExit`). */
  operation: string;
  /** The HTTP status, when a response came. */
  status?: number | undefined;
  /** The provider's error code from the body (e.g. `EXECUTION_TIMEOUT`), or ours (e.g. `BODY_TOO_LARGE`). */
  code?: string | undefined;
  /** The provider's request ID from the response headers, to quote to its support. */
  requestId?: string | undefined;
  /** The response body as received (parsed JSON when it was JSON). */
  body?: unknown;
  /** How many times the request was retried before this error. */
  retries?: number;
  /** The response's Retry-After, in milliseconds, when it had one. */
  retryAfterMs?: number | undefined;
  /** The underlying failure (a network error, an abort reason), kept as `Error.cause`. */
  cause?: unknown;
}

/**
 * The base of every error this package throws. Its message reads
 * `<provider> <operation> [status] [code]: <what> [(request <id>)]`; the API key is
 * never part of it, nor of any field.
 */
export class SandboxProcsError extends Error {
  /** The provider whose call failed. */
  readonly provider: ProviderName;
  /** The operation that failed: the spec's operationId (e.g. `sandbox_process_start`), or the method's name when no single request failed (e.g. `createClient`, `waitForExit`). */
  readonly operation: string;
  /** The HTTP status; undefined when no response came (network, time limit, abort, validation). */
  readonly status: number | undefined;
  /** The provider's error code from the body, or ours (e.g. `BODY_TOO_LARGE`); undefined when none. */
  readonly code: string | undefined;
  /** The provider's request ID from the response headers, when it sent one. */
  readonly requestId: string | undefined;
  /** The response body as received (parsed JSON when it was JSON); undefined when no response came. */
  readonly body: unknown;
  /** How many times the request was retried before this error (0 when it was not). */
  retries: number;
  /** The response's Retry-After, in milliseconds, when it had one (e.g. on a RateLimitError). */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: ErrorDetails) {
    super(describe(message, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.provider = details.provider;
    this.operation = details.operation;
    this.status = details.status;
    this.code = details.code;
    this.requestId = details.requestId;
    this.body = details.body;
    this.retries = details.retries ?? 0;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** A loggable summary: name, message, provider, operation, status, code, requestId, retries (not the body, which may be large). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      provider: this.provider,
      operation: this.operation,
      status: this.status,
      code: this.code,
      requestId: this.requestId,
      retries: this.retries,
    };
  }
}

function describe(message: string, d: ErrorDetails): string {
  const where = `${d.provider} ${d.operation}`;
  const what = [d.status, d.code].filter((part) => part !== undefined).join(' ');
  const id = d.requestId ? ` (request ${d.requestId})` : '';
  return `${where}${what ? ` ${what}` : ''}: ${message}${id}`;
}

/** The input was rejected before anything was sent. */
export class ValidationError extends SandboxProcsError {}
/** The provider answered 400, 413, 415 or 422: it rejected the request. */
export class InvalidRequestError extends SandboxProcsError {}
/** The provider answered 401 or 403. */
export class AuthenticationError extends SandboxProcsError {}
/** The provider answered 404: the process (or route) does not exist. */
export class NotFoundError extends SandboxProcsError {}
/** The provider answered 429. */
export class RateLimitError extends SandboxProcsError {}
/** The provider answered a declared 5xx. */
export class ServerError extends SandboxProcsError {}
/** The response broke the contract: undeclared status, body that is not what the spec says. */
export class UnexpectedResponseError extends SandboxProcsError {}
/**
 * No response within the time limit (`status` undefined), or the provider said its
 * own time limit ran out: a declared 408, which HopX's agent answers when code runs
 * past its `timeout` (`code` EXECUTION_TIMEOUT). Only the first kind is retried.
 */
export class TimeoutError extends SandboxProcsError {}
/** The connection failed: refused, reset, DNS, TLS. */
export class NetworkError extends SandboxProcsError {}
/** The caller's AbortSignal fired before the work was done. */
export class AbortedError extends SandboxProcsError {}
/** The provider has no such capability (see `processes.capabilities`); nothing was sent. */
export class UnsupportedOperationError extends SandboxProcsError {}
/**
 * An optional peer dependency the call needs is not installed (`code` MISSING_PEER):
 * `peer` names the package to install, e.g. `ws` for streamed execution and terminals.
 */
export class MissingPeerError extends SandboxProcsError {
  /** The npm package to install. */
  readonly peer: string;
  constructor(peer: string, details: ErrorDetails) {
    super(`needs the optional peer dependency ${peer}, which is not installed: npm install ${peer}`, { ...details, code: 'MISSING_PEER' });
    this.peer = peer;
  }
}
/**
 * A WebSocket session ended before its contract says it may (no exit message, an
 * abnormal close): `closeCode` and `closeReason` are the close frame's (`code` is
 * `CLOSE_<closeCode>`), e.g. Tensorlake's 1008 "output lagged by N messages".
 */
export class SessionClosedError extends SandboxProcsError {
  /** The WebSocket close code (1006 when the connection dropped without one). */
  readonly closeCode: number;
  /** The close frame's reason, as sent. */
  readonly closeReason: string;
  constructor(message: string, closeCode: number, closeReason: string, details: ErrorDetails) {
    super(message, { ...details, code: `CLOSE_${closeCode}` });
    this.closeCode = closeCode;
    this.closeReason = closeReason;
  }
}

/** The constructor of a SandboxProcsError subclass, as errorClassForStatus returns it. */
export type ErrorClass = new (message: string, details: ErrorDetails) => SandboxProcsError;

/** The class for a declared non-2xx status. */
export function errorClassForStatus(status: number): ErrorClass {
  if (status === 400 || status === 413 || status === 415 || status === 422) return InvalidRequestError;
  if (status === 401 || status === 403) return AuthenticationError;
  if (status === 404) return NotFoundError;
  if (status === 408) return TimeoutError;
  if (status === 429) return RateLimitError;
  if (status >= 500) return ServerError;
  return SandboxProcsError;
}
