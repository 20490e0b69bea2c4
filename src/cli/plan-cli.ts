/**
 * Shared glue of the planner commands (plan, evaluate, hparams, growth): turns the planner's
 * input errors into one-line user errors (exit 2) and parses the flags they have in common.
 */
import { PlanInputError, isParameterization, type Parameterization } from '../core/plan';
import { UserError } from './errors';

/** Runs planner code; PlanInputError / RangeError become UserError (one stderr line, exit 2). */
export function userErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PlanInputError || e instanceof RangeError) throw new UserError(e.message.split('\n')[0]);
    throw e;
  }
}

export function parseParam(v: unknown): Parameterization {
  const s = typeof v === 'string' ? v : 'completep';
  if (!isParameterization(s)) throw new UserError(`--param: unknown parameterization '${s}'; known: completep, alpha0.5, mup, sp`);
  return s;
}

/**
 * --precision of the time model: fp32 (default; ShapeLab's local trainer, and train.py with TF32
 * off) or bf16 (mixed precision on tensor cores, the datasheet's dense BF16 peak).
 */
export function parsePrecision(v: unknown): 'fp32' | 'bf16' | undefined {
  if (v === undefined) return undefined;
  if (v !== 'fp32' && v !== 'bf16') throw new UserError(`--precision: expected fp32 or bf16 (got '${String(v)}')`);
  return v;
}

/**
 * `--flops -1e20` would make node's parseArgs read '-1e20' as an option ("argument is ambiguous");
 * join a negative number to its flag so the range check can say what is wrong with the value.
 */
export function joinNegativeNumbers(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    if (a.startsWith('--') && !a.includes('=') && next !== undefined && /^-(\d|\.\d|inf)/i.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Writes a JSON document (the stable machine interface) to stdout. */
export function printJson(doc: unknown): void {
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}
