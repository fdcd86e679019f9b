// Looks for secrets in log lines: full card numbers (a masked one, 886100******0001, is fine), track data, and hex
// key material (PIN blocks, master, working and key-encryption keys) or API keys, in any case.
export type Secrets = Record<string, string[]>;

export interface Leak { file: string; line: number; kind: string; excerpt: string }

const digitRun = /\d{13,19}/g;
const hexRun = /[0-9a-fA-F]{16,}/g;

/** Masks the secret in the excerpt, so a failing test does not print what it found. */
function excerpt(line: string, secret: string): string {
  const at = line.indexOf(secret);
  const shown = line.replace(secret, `<${secret.length} chars>`);
  return shown.slice(Math.max(0, at - 60), at + 80);
}

export function scanLines(file: string, lines: string[], secrets: Secrets): Leak[] {
  const cards = new Set(secrets.cardNumbers ?? []);
  const texts = Object.entries(secrets).filter(([kind]) => kind !== 'cardNumbers' && kind !== 'apiKeys' && kind !== 'trackData');
  const hex = texts.flatMap(([kind, xs]) => xs.map((x) => [kind, x.toUpperCase()] as const));
  const literal = [...(secrets.apiKeys ?? []).map((x) => ['apiKeys', x] as const), ...(secrets.trackData ?? []).map((x) => ['trackData', x] as const)];
  const leaks: Leak[] = [];
  lines.forEach((l, i) => {
    for (const m of l.matchAll(digitRun)) {
      if (cards.has(m[0])) leaks.push({ file, line: i + 1, kind: 'cardNumbers', excerpt: excerpt(l, m[0]) });
    }
    for (const m of l.matchAll(hexRun)) {
      const run = m[0].toUpperCase();
      for (const [kind, x] of hex) if (run.includes(x)) leaks.push({ file, line: i + 1, kind, excerpt: excerpt(l.toUpperCase(), x) });
    }
    for (const [kind, x] of literal) if (l.includes(x)) leaks.push({ file, line: i + 1, kind, excerpt: excerpt(l, x) });
  });
  return leaks;
}
