// Calls into a test switch's admin app with a key of a given role (made for the test, straight in its database).
import { ApiKeys, type Role } from '../../src/admin/keys.js';
import type { LightMyRequestResponse } from 'fastify';
import type { RunningApp } from '../../src/app.js';

export type AdminCall = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: object) => Promise<LightMyRequestResponse>;

export async function adminCaller(app: RunningApp, role: Role): Promise<AdminCall> {
  const { key } = await new ApiKeys(app.ledger.pool).create({ role, name: `test ${role}` });
  return (method, url, payload) =>
    app.admin.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload ? { payload } : {}) });
}
