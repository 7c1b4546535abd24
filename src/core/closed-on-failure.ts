// For a resource handed on once it is set up: closed here only when setting up fails.

/** `use(resource)`; when that fails, the resource is closed before the error goes on. On success, what `use` made owns it. */
export async function closedOnFailure<Resource extends { close(): Promise<void> }, Result>(resource: Resource, use: (resource: Resource) => Promise<Result>): Promise<Result> {
  try {
    return await use(resource);
  } catch (error) {
    await resource.close();
    throw error;
  }
}
