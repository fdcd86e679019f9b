// The admin API's resource plugins, each under its own prefix.
import type { FastifyPluginAsync } from 'fastify';
import type { Ledger } from '../ledger/index.js';

export function adminResources(_ledger: Ledger): Array<{ prefix: string; plugin: FastifyPluginAsync }> {
  return [];
}
