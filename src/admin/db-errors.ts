// Postgres constraint errors of admin writes -> problems that name the field at fault.
import { HttpProblem, problemTypes } from './problem.js';

export class FieldProblem extends HttpProblem {
  constructor(status: number, title: string, readonly field: string, detail: string, type?: string) {
    super(status, title, `${field}: ${detail}`, type);
  }
}

/** Maps unique (23505), foreign key (23503) and check (23514) violations; rethrows anything else. */
export function rethrowAsProblem(err: unknown, fields: Record<string, string>): never {
  const e = err as { code?: string; constraint?: string; detail?: string };
  const field = Object.entries(fields).find(([needle]) => (e.constraint ?? '').includes(needle) || (e.detail ?? '').includes(needle))?.[1]
    ?? Object.values(fields)[0] ?? 'body';
  if (e.code === '23505') throw new FieldProblem(409, 'Already exists', field, 'a record with this value exists');
  if (e.code === '23503') throw new FieldProblem(422, 'Unknown reference', field, 'refers to a record that does not exist', problemTypes.unknownReference);
  if (e.code === '23514') throw new FieldProblem(422, 'Invalid value', field, 'violates a rule of the ledger');
  throw err;
}
