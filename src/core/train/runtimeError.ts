/** A provider or option the user asked for cannot be used here (the user fixes it: exit code 2). */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
}
