// Who may call what. Every route declares its access in its route config (`config: { access }`): 'public', or
// the roles that may call it. A route that declares nothing fails the app's start, so no endpoint can be added
// open by mistake. The auditor reads everything: every GET route admits it. The key comes as
// `Authorization: Bearer <key>` (or `X-Api-Key`); a missing or wrong key is 401, a key whose role may not call the
// route 403. Failed key checks are budgeted per client address: past the budget the address is answered 429 with
// Retry-After without its key being looked at, and the failures are logged (address and count, never the key).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TokenBuckets } from '../net/token-buckets.js';
import type { ApiKeys, Principal, Role } from './keys.js';
import { roles } from './keys.js';
import { ProblemSchema, problemTypes, sendProblem } from './problem.js';

export type Access = 'public' | { roles: readonly Role[] };

declare module 'fastify' {
  interface FastifyContextConfig { access?: Access }
  interface FastifyRequest { principal?: Principal }
}

export interface AuthOptions {
  keys: ApiKeys;
  /** Failed key checks one address may make a second (bursts of 10 more). */
  failuresPerSecondMax?: number;
  /** Access of routes that plugins from elsewhere register without a config (the OpenAPI document and its UI). */
  fallback?: (url: string) => Access | undefined;
}

const everyone: readonly Role[] = roles;

/** The roles that may call a route: its own, plus the auditor on reads. */
export function rolesFor(method: string, access: { roles: readonly Role[] }): Role[] {
  const set = new Set(access.roles);
  if (method === 'GET' || method === 'HEAD') set.add('auditor');
  return roles.filter((r) => set.has(r));
}

export function registerAuth(app: FastifyInstance, o: AuthOptions): void {
  const failures = new TokenBuckets(o.failuresPerSecondMax ?? 1, 10, 100_000);
  const warned = new Map<string, number>();
  const allowed = new Map<string, Set<Role> | 'public'>();

  app.addHook('onRoute', (route) => {
    const url = route.url ?? route.path;
    const access = route.config?.access ?? o.fallback?.(url);
    if (!access) throw new Error(`admin route ${String(route.method)} ${url} declares no access (config.access)`);
    const methods = [route.method].flat();
    for (const m of methods) {
      allowed.set(`${m} ${url}`, access === 'public' ? 'public' : new Set(rolesFor(m, access)));
    }
    if (access !== 'public' && route.schema && !route.schema.hide) {
      // The OpenAPI document says, for every route, the key it needs, the roles that may call it and the
      // problems it can answer.
      const who = rolesFor(String(methods[0]), access).join(', ');
      route.schema = {
        ...route.schema,
        security: [{ apiKey: [] }],
        description: `${route.schema.description ? `${route.schema.description} ` : ''}Roles: ${who}.`,
        response: {
          ...(route.schema.response as object | undefined),
          ...(route.schema.body || route.schema.querystring || route.schema.params ? { 400: ProblemSchema } : {}),
          ...(route.schema.params ? { 404: ProblemSchema } : {}),
          ...(route.schema.body ? { 413: ProblemSchema } : {}),
          401: ProblemSchema, 403: ProblemSchema, 429: ProblemSchema, 500: ProblemSchema,
        },
      };
    }
  });

  const deny = (reply: FastifyReply, status: 401 | 403 | 429, detail: string) =>
    sendProblem(reply, {
      type: status === 401 ? problemTypes.unauthorized : status === 403 ? problemTypes.forbidden : problemTypes.tooManyFailures,
      title: status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Too Many Requests', status, detail,
    });

  const failed = (req: FastifyRequest) => {
    failures.take(req.ip);
    const now = Date.now();
    if ((warned.get(req.ip) ?? 0) + 10_000 > now) return;
    if (warned.size >= 10_000) warned.clear();
    warned.set(req.ip, now);
    req.log.warn({ address: req.ip, url: req.routeOptions.url }, 'admin: a request with a missing or wrong API key was refused');
  };

  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route === undefined) return;                       // no such route: the 404 handler answers
    const who = allowed.get(`${req.method} ${route}`);
    if (who === undefined || who === 'public') return;
    if (failures.left(req.ip) < 1) {
      const waitS = Math.max(1, Math.ceil((1 - failures.left(req.ip)) / failures.ratePerS));
      reply.header('retry-after', String(waitS));
      return deny(reply, 429, `too many failed key checks from this address; retry in ${waitS} s`);
    }
    const presented = presentedKey(req);
    const principal = presented ? await o.keys.verify(presented) : null;
    if (!principal) {
      failed(req);
      return deny(reply, 401, presented
        ? 'the API key is unknown, revoked or expired'
        : 'an API key is required: send it as "Authorization: Bearer <key>" (create one with `pointswitch apikey create`)');
    }
    if (!who.has(principal.role)) {
      return deny(reply, 403, `role ${principal.role} may not call ${req.method} ${route}; roles that may: ${[...who].join(', ')}`);
    }
    req.principal = principal;
  });
}

function presentedKey(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth.trim());
    return m ? m[1]! : null;
  }
  const x = req.headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : null;
}

/** Access for every role (any valid key). */
export const anyKey: Access = { roles: everyone };
