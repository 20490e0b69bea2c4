/**
 * The shape of a CLI command, in a module of its own so that command modules and the dispatcher
 * (main.ts, which imports every command) both import it and nothing imports main.ts back.
 */
export interface Command {
  summary: string;
  run(argv: string[]): Promise<number | void>;
}
