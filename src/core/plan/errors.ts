/**
 * Bad input to the planner (unknown GPU, impossible shape, negative budget, ...). The message is
 * one line meant for the user as-is; the CLI turns it into stderr + exit code 2, the webview shows it.
 */
export class PlanInputError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'PlanInputError';
  }
}

/** Throws PlanInputError unless `v` is a finite number > 0. */
export function requirePositive(v: number, what: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw new PlanInputError(`${what} must be a finite number > 0 (got ${v})`);
}
