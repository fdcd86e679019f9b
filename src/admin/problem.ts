// Every admin error is answered in one shape: application/problem+json (RFC 9457), naming the field at fault.
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { maskPansIn } from '../../protocol/mask.js';

/** The stable `type` of each kind of problem the admin API answers (listed in src/admin/README.md). */
export const problemTypes = {
  validation: 'about:blank#validation',
  unauthorized: 'about:blank#unauthorized',
  forbidden: 'about:blank#forbidden',
  tooManyFailures: 'about:blank#too-many-failures',
  notFound: 'about:blank#not-found',
  conflict: 'about:blank#conflict',
  unknownReference: 'about:blank#unknown-reference',
  invalidValue: 'about:blank#invalid-value',
  tooLarge: 'about:blank#too-large',
  internal: 'about:blank#internal',
} as const;

/** The problem+json body, as a schema (for the OpenAPI document's error responses). */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
}).describe('application/problem+json (RFC 9457)');

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  /** One entry per invalid input: `field` is a JSON path such as `body.points` or `params.cardNo`. */
  errors?: Array<{ field: string; message: string }>;
}

export class HttpProblem extends Error {
  readonly type: string;
  constructor(readonly status: number, readonly title: string, detail?: string, type?: string) {
    super(detail ?? title);
    this.type = type ?? typeForStatus(status);
  }
}

/** The type of a problem known only by its status. */
export function typeForStatus(status: number): string {
  switch (status) {
    case 400: return problemTypes.validation;
    case 401: return problemTypes.unauthorized;
    case 403: return problemTypes.forbidden;
    case 404: return problemTypes.notFound;
    case 409: return problemTypes.conflict;
    case 413: return problemTypes.tooLarge;
    case 422: return problemTypes.invalidValue;
    case 429: return problemTypes.tooManyFailures;
    default: return status >= 500 ? problemTypes.internal : 'about:blank';
  }
}

export function sendProblem(reply: { code(n: number): unknown; type(t: string): unknown; send(p: unknown): unknown }, p: Problem) {
  reply.code(p.status);
  reply.type('application/problem+json');
  return reply.send(p);
}

/**
 * An error as it may be logged: its kind, SQLSTATE, message and stack with anything that could be a card number
 * masked (a database error's text can quote a row), and none of its other properties (a constraint error's
 * detail quotes the row whole).
 */
export function loggable(err: unknown): { type: string; code?: string; message: string; stack?: string } {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; stack?: unknown };
  return {
    type: typeof e?.name === 'string' ? e.name : 'Error',
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    message: maskPansIn(typeof e?.message === 'string' ? e.message : String(err)),
    ...(typeof e?.stack === 'string' ? { stack: maskPansIn(e.stack) } : {}),
  };
}

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'body';
      const errors = err.validation.map((v) => {
        const path = (v.instancePath ?? '').split('/').filter(Boolean).join('.');
        const missing = (v.params as { issue?: { path?: unknown[] } } | undefined)?.issue?.path;
        const field = [where, path || (Array.isArray(missing) ? missing.join('.') : '')].filter(Boolean).join('.');
        return { field, message: v.message ?? 'invalid' };
      });
      return sendProblem(reply, {
        type: problemTypes.validation, title: 'Invalid request', status: 400,
        detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors,
      });
    }
    if (err instanceof HttpProblem) {
      return sendProblem(reply, { type: err.type, title: err.title, status: err.status, detail: err.message });
    }
    if (isResponseSerializationError(err)) {
      request.log.error({ err: loggable(err) }, 'response does not match its schema');
      return sendProblem(reply, { type: problemTypes.internal, title: 'Internal Server Error', status: 500 });
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) request.log.error({ err: loggable(err) }, 'admin request failed');
    return sendProblem(reply, {
      type: typeForStatus(status), title: status >= 500 ? 'Internal Server Error' : err.message, status,
      ...(status < 500 ? { detail: err.message } : {}),
    });
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { type: problemTypes.notFound, title: 'Not Found', status: 404, detail: `no route ${request.method} ${request.url}` }));
}
