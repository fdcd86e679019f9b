// Calls into a test switch's admin app with a key of a given role (made for the test, straight in its database).
import { ApiKeys, type Role } from '../../src/admin/keys.js';
import type { LightMyRequestResponse } from 'fastify';
import type { RunningApp } from '../../src/app.js';

/** `raw`: a body sent as it is, with its content type (a CSV file), instead of `payload` as JSON. */
export type AdminCall = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: object,
  raw?: { body: string; contentType: string }) => Promise<LightMyRequestResponse>;

export async function adminCaller(app: RunningApp, role: Role): Promise<AdminCall> {
  const { key } = await new ApiKeys(app.ledger.pool).create({ role, name: `test ${role}` });
  return (method, url, payload, raw) => app.admin.inject({
    method, url,
    headers: { authorization: `Bearer ${key}`, ...(raw ? { 'content-type': raw.contentType } : {}) },
    ...(raw ? { payload: raw.body } : payload ? { payload } : {}),
  });
}
