// Every admin error is answered in one shape: application/problem+json (RFC 9457), naming the field at fault.
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  /** One entry per invalid input: `field` is a JSON path such as `body.points` or `params.cardNo`. */
  errors?: Array<{ field: string; message: string }>;
}

export class HttpProblem extends Error {
  constructor(readonly status: number, readonly title: string, detail?: string) {
    super(detail ?? title);
  }
}

export function sendProblem(reply: { code(n: number): unknown; type(t: string): unknown; send(p: unknown): unknown }, p: Problem) {
  reply.code(p.status);
  reply.type('application/problem+json');
  return reply.send(p);
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
        type: 'about:blank#validation', title: 'Invalid request', status: 400,
        detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors,
      });
    }
    if (err instanceof HttpProblem) {
      return sendProblem(reply, { type: 'about:blank', title: err.title, status: err.status, detail: err.message });
    }
    if (isResponseSerializationError(err)) {
      request.log.error({ err }, 'response does not match its schema');
      return sendProblem(reply, { type: 'about:blank', title: 'Internal Server Error', status: 500 });
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) request.log.error({ err }, 'admin request failed');
    return sendProblem(reply, {
      type: 'about:blank', title: status >= 500 ? 'Internal Server Error' : err.message, status,
      ...(status < 500 ? { detail: err.message } : {}),
    });
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { type: 'about:blank', title: 'Not Found', status: 404, detail: `no route ${request.method} ${request.url}` }));
}
