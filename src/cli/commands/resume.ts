import type { Command } from '../main';
import { UserError } from '../errors';

// Placeholder until the owning issue lands.
export const command: Command = {
  summary: '(not yet available)',
  async run() {
    throw new UserError('resume is not available yet');
  },
};
