// Finds SQL built from values rather than parameters: a template literal whose text reads as SQL (an upper-case
// keyword) with an interpolation in it, and a string that reads as SQL joined with `+` to something that is not a
// literal. Each is reported with its file, line and the interpolated expression, for the allow-list to judge.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface Built { file: string; line: number; expression: string; sql: string }

const sqlWords = /\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|DROP|ALTER|TRUNCATE|GRANT|WHERE|VALUES|ORDER BY|LIMIT|RETURNING|COPY|LISTEN|NOTIFY)\b/;

export function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return /\.ts$/.test(e) && !e.endsWith('.d.ts') ? [p] : [];
  });
}

function isLiteral(n: ts.Node): boolean {
  return ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isNumericLiteral(n)
    || (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken && isLiteral(n.left) && isLiteral(n.right))
    || (ts.isParenthesizedExpression(n) && isLiteral(n.expression));
}

function literalText(n: ts.Node): string {
  if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
  if (ts.isTemplateExpression(n)) return [n.head.text, ...n.templateSpans.map((s) => s.literal.text)].join(' ');
  if (ts.isBinaryExpression(n)) return `${literalText(n.left)} ${literalText(n.right)}`;
  return '';
}

export function scanSource(file: string, text: string): Built[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Built[] = [];
  const at = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const visit = (n: ts.Node): void => {
    if (ts.isTemplateExpression(n)) {
      const sql = literalText(n);
      if (sqlWords.test(sql)) for (const s of n.templateSpans) out.push({ file, line: at(s.expression), expression: s.expression.getText(sf), sql: sql.replace(/\s+/g, ' ').slice(0, 80) });
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const sides = [n.left, n.right];
      const sql = sides.filter(isLiteral).map(literalText).join(' ');
      if (sqlWords.test(sql)) for (const side of sides) if (!isLiteral(side) && !ts.isTemplateExpression(side)) out.push({ file, line: at(side), expression: side.getText(sf), sql: sql.replace(/\s+/g, ' ').slice(0, 80) });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

export function scanFiles(files: string[], root: string): Built[] {
  return files.flatMap((f) => scanSource(path.relative(root, f), readFileSync(f, 'utf8')));
}
