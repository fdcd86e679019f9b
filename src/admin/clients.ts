// GET /clients: the POS clients connected now, by remote address: who holds the connections, which of them
// proved a terminal's keys, what they have in flight and what they owe the refusal budget. For an operator
// facing a flood: the address to block in front of the switch is the one at the top.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface ClientSummary {
  address: string;
  connections: number;
  /** Connections on which a MAC has verified. */
  trusted: number;
  inFlight: number;
  /** Refusal turns the address has left; below 0, turns it owes (its refusing connections wait). */
  refusalTurnsLeft: number;
}

export type ClientsSource = () => ClientSummary[];

export interface ClientsOptions {
  clients: ClientsSource;
  /** Refusal turns the whole switch has left (refusalsPerSecondMax); below 0, owed. */
  refusalTurnsLeft?: () => number | undefined;
}

const Client = z.object({
  address: z.string().describe('client address: the IPv4 address, or an IPv6 address\'s /64 (per-address limits are kept by it)'),
  connections: z.number().int().describe('open POS connections from it'),
  trusted: z.number().int().describe('of those, connections on which a MAC has verified (never closed to make room)'),
  inFlight: z.number().int().describe('its requests being processed now'),
  refusalTurnsLeft: z.number().int().describe('refusal budget left; below 0, turns owed: its refusing connections wait'),
});

const Query = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).default(50).describe('addresses at most, those with the most connections first'),
});

export const clientsPlugin: FastifyPluginAsyncZod<ClientsOptions> = async (app, opts) => {
  app.get('/clients', {
    config: { access: { roles: ['operator'] } },
    schema: {
      tags: ['operations'], summary: 'POS clients connected now, by remote address', querystring: Query,
      response: {
        200: z.object({
          addresses: z.number().int(),
          connections: z.number().int(),
          refusalTurnsLeft: z.number().int().optional().describe('the whole switch\'s refusal budget left; below 0, turns owed: refusing connections from every address wait'),
          clients: z.array(Client),
        }),
      },
    },
  }, async (req) => {
    const all = opts.clients();
    const clients = [...all].sort((a, b) => b.connections - a.connections || b.inFlight - a.inFlight || a.address.localeCompare(b.address))
      .slice(0, req.query.limit);
    const left = opts.refusalTurnsLeft?.();
    return { addresses: all.length, connections: all.reduce((n, c) => n + c.connections, 0), ...(left === undefined ? {} : { refusalTurnsLeft: Math.floor(left) }), clients };
  });
};
