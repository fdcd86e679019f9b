// Connections against the process's open-files limit. Every POS connection is a file descriptor, and so is every
// Postgres and Redis connection, the admin port's, and the listeners. A limit below connectionsMax means a
// client holding many connections takes the last descriptors: the switch then cannot accept anyone (libuv
// accepts and drops the connection, unlogged) nor open a database connection. So the connection limits are
// fitted to the descriptors there are, keeping `reservedFiles` for everything else, and the switch says so.
// (Node raises its soft limit to the hard one at start; this reads what it got.)
import { readFileSync } from 'node:fs';

/** Descriptors kept for all but POS connections: Postgres pool, Redis, admin HTTP, listeners, logs. */
export const reservedFiles = 128;

/** The soft limit on open files ("Max open files" in /proc/self/limits); null when unknown or unlimited. */
export function openFilesLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | null {
  let text: string;
  try {
    text = read();
  } catch {
    return null;   // not Linux: nothing to go by
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  const n = m ? Number(m[1]) : Number.NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export interface FittedConnections {
  connectionsMax: number;
  connectionsPerAddressMax: number;
  /** Set when the limits were lowered: what to tell the operator. */
  warning?: string;
}

/**
 * The connection limits that fit `openFiles`: unchanged when they fit; otherwise connectionsMax lowered to the
 * descriptors left after `reservedFiles` (at least 1), and connectionsPerAddressMax by the same factor, so one
 * client keeps the same share of the whole.
 */
export function fitConnections(connectionsMax: number, connectionsPerAddressMax: number, openFiles: number | null): FittedConnections {
  if (openFiles === null || connectionsMax + reservedFiles <= openFiles) return { connectionsMax, connectionsPerAddressMax };
  const fitted = Math.max(1, openFiles - reservedFiles);
  const perAddress = Math.min(connectionsPerAddressMax, Math.max(1, Math.floor((fitted * connectionsPerAddressMax) / connectionsMax)));
  return {
    connectionsMax: fitted,
    connectionsPerAddressMax: perAddress,
    warning: `the open-files limit (${openFiles}) leaves room for ${fitted} POS connections: connectionsMax ${connectionsMax} → ${fitted}, `
      + `connectionsPerAddressMax ${connectionsPerAddressMax} → ${perAddress}. Raise the limit for more `
      + `(ulimit -n; LimitNOFILE= under systemd; --ulimit nofile= for Docker)`,
  };
}
