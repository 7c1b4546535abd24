// The runtime shape of generated/<provider>.operations.ts: what the spec says about
// one operation, reduced to what request validation and response decoding need.

export interface SchemaConstraints {
  /** What a value of this form is, for an error that lists the forms a value may take. */
  readonly title?: string;
  readonly type?: string | readonly string[];
  readonly format?: string;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly required?: readonly string[];
  readonly properties?: { readonly [name: string]: SchemaConstraints };
  readonly items?: SchemaConstraints;
  readonly additionalProperties?: boolean | SchemaConstraints;
  readonly anyOf?: readonly SchemaConstraints[];
  readonly oneOf?: readonly SchemaConstraints[];
  readonly allOf?: readonly SchemaConstraints[];
}

export interface ParameterMeta {
  readonly name: string;
  readonly in: string;
  readonly required: boolean;
  readonly schema: SchemaConstraints;
}

export interface OperationMeta {
  readonly method: string;
  readonly path: string;
  /** false for an operation the SDKs call that the emulators do not serve (the spec's `x-emulated: false`). */
  readonly emulated?: false;
  readonly parameters: readonly ParameterMeta[];
  readonly requestBody?: { readonly required: boolean; readonly schema: SchemaConstraints };
  /** A WebSocket upgrade's messages (the spec's `x-messages`): what the client may send, and what the server may. */
  readonly messages?: { readonly client: SchemaConstraints; readonly server: SchemaConstraints };
  /** Declared statuses and the media types each may carry (none for an empty body). */
  readonly responses: { readonly [status: string]: { readonly mediaTypes: readonly string[] } };
}

export type OperationTable = { readonly [operationId: string]: OperationMeta };

/** The parts of a request that the spec constrains. */
export interface RequestInput {
  path?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
}
