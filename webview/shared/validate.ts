/**
 * A tiny, dependency-free validator kit for messages that cross the webview boundary.
 * Every validator takes `unknown` and either returns a typed value or throws a ValidationError
 * naming the offending field. No `vscode` import: unit-testable and usable in the webview bundle.
 */

export class ValidationError extends Error {
  constructor(public readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ValidationError';
  }
}

export type Validator<T> = (v: unknown, field: string) => T;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function obj(v: unknown, field: string): Record<string, unknown> {
  if (!isPlainObject(v)) throw new ValidationError(field, 'expected an object');
  return v;
}

/** Rejects keys not in `allowed` (so unexpected payloads are never passed along). */
export function exactKeys(o: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ValidationError(`${field}.${k}`, 'unexpected field');
  }
}

export function num(opts: { min?: number; max?: number; int?: boolean } = {}): Validator<number> {
  return (v, field) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(field, 'expected a finite number');
    if (opts.int && !Number.isInteger(v)) throw new ValidationError(field, 'expected an integer');
    if (opts.min !== undefined && v < opts.min) throw new ValidationError(field, `must be >= ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) throw new ValidationError(field, `must be <= ${opts.max}`);
    return v;
  };
}

export function str(opts: { maxLength?: number; minLength?: number; pattern?: RegExp } = {}): Validator<string> {
  const maxLength = opts.maxLength ?? 256;
  return (v, field) => {
    if (typeof v !== 'string') throw new ValidationError(field, 'expected a string');
    if (v.length > maxLength) throw new ValidationError(field, `longer than ${maxLength} characters`);
    if (opts.minLength !== undefined && v.length < opts.minLength) throw new ValidationError(field, `shorter than ${opts.minLength} characters`);
    if (opts.pattern && !opts.pattern.test(v)) throw new ValidationError(field, 'has an invalid format');
    return v;
  };
}

export function oneOf<T extends string>(values: readonly T[]): Validator<T> {
  return (v, field) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw new ValidationError(field, `expected one of ${values.join(', ')}`);
    }
    return v as T;
  };
}

export function bool(): Validator<boolean> {
  return (v, field) => {
    if (typeof v !== 'boolean') throw new ValidationError(field, 'expected true or false');
    return v;
  };
}

export function optional<T>(inner: Validator<T>): Validator<T | undefined> {
  return (v, field) => (v === undefined || v === null ? undefined : inner(v, field));
}

export function arr<T>(inner: Validator<T>, maxItems: number): Validator<T[]> {
  return (v, field) => {
    if (!Array.isArray(v)) throw new ValidationError(field, 'expected an array');
    if (v.length > maxItems) throw new ValidationError(field, `more than ${maxItems} items`);
    return v.map((x, i) => inner(x, `${field}[${i}]`));
  };
}

type Shape = Record<string, Validator<unknown>>;
type Out<S extends Shape> = { [K in keyof S]: ReturnType<S[K]> };

/** An object with exactly these fields (optional ones may be absent). */
export function record<S extends Shape>(shape: S): Validator<Out<S>> {
  return (v, field) => {
    const o = obj(v, field);
    exactKeys(o, Object.keys(shape), field);
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(shape)) {
      const r = val(o[k], `${field}.${k}`);
      if (r !== undefined) out[k] = r;
    }
    return out as Out<S>;
  };
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export function attempt<T>(fn: () => T): Result<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof ValidationError) return { ok: false, error: e.message };
    // Anything else (e.g. a getter throwing on a hostile object) is still a rejection, not a crash.
    return { ok: false, error: `invalid message: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300) };
  }
}
