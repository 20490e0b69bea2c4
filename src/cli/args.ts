import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from './errors';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Parses argv with node's parseArgs, turning its exceptions into one-line user errors. */
export function parse(argv: string[], options: OptionSpec, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UserError((e as Error).message.split('\n')[0]);
  }
}

/** A finite number from a flag; `what` names the flag in the error. */
export function num(value: unknown, what: string, opts: { min?: number; max?: number; integer?: boolean; positive?: boolean } = {}): number {
  if (typeof value !== 'string' || value.trim() === '') throw new UserError(`${what}: expected a number`);
  const x = Number(value);
  if (!Number.isFinite(x)) throw new UserError(`${what}: '${value}' is not a finite number`);
  if (opts.integer && !Number.isInteger(x)) throw new UserError(`${what}: '${value}' must be an integer`);
  if (opts.positive && !(x > 0)) throw new UserError(`${what}: must be > 0 (got ${value})`);
  if (opts.min !== undefined && x < opts.min) throw new UserError(`${what}: must be >= ${opts.min} (got ${value})`);
  if (opts.max !== undefined && x > opts.max) throw new UserError(`${what}: must be <= ${opts.max} (got ${value})`);
  return x;
}

export function optNum(value: unknown, what: string, opts: Parameters<typeof num>[2] = {}): number | undefined {
  return value === undefined ? undefined : num(value, what, opts);
}
