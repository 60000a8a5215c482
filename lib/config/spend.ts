import { z } from 'zod';
import type { NamespaceBudget } from '../reconcile/spend-limits.ts';

/**
 * The spend-limit settings' forms (ADR 0019). Each refusal names the bad entry and the
 * accepted form: `build` (config.ts) appends a custom issue's message to the setting's form.
 */

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const AMOUNT = /^(\d{1,6})(\.\d{1,4})?$/;

export const MONEY_FORM = 'an amount of USD with up to 4 decimals, above 0 (e.g. "2.5")';

/** USD (per hour), above 0. */
export const money = z.string().transform((text, ctx) => {
  const n = AMOUNT.test(text) ? Number(text) : Number.NaN;
  if (!(n > 0)) {
    ctx.addIssue({ code: 'custom', message: 'not a positive amount' });
    return z.NEVER;
  }
  return n;
});

export const NAMESPACES_FORM =
  'a comma list of namespace names (e.g. "ml,team-a"), or "*" for every namespace';

/** The namespaces that may rent: names, or `*`. */
export const rentNamespaces = z.string().transform((text, ctx): readonly string[] | '*' => {
  if (text === '*') return '*';
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = names.filter((n) => !NAMESPACE.test(n) || n.length > 63);
  if (names.length === 0 || bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message:
        bad.length > 0 ? `not a namespace name: ${bad.map((b) => JSON.stringify(b)).join(', ')}` : 'empty',
      params: { detail: true },
    });
    return z.NEVER;
  }
  return [...new Set(names)];
});

export const BUDGETS_FORM =
  '";"-separated entries <namespace>=<USD>/h and/or <USD>/day, comma-separated (e.g. "team-a=2.5/h,40/day;team-b=1/h")';

/** `team-a=2.5/h,40/day;team-b=1/h` → budgets by namespace. */
export const namespaceBudgets = z.string().transform((text, ctx) => {
  const budgets: Record<string, NamespaceBudget> = {};
  for (const raw of text.split(';').map((s) => s.trim())) {
    if (raw === '') continue;
    const parsed = budgetEntry(raw);
    if (typeof parsed === 'string' || budgets[parsed.namespace] !== undefined) {
      const why = typeof parsed === 'string' ? parsed : `namespace ${parsed.namespace} is listed twice`;
      ctx.addIssue({
        code: 'custom',
        message: `entry ${JSON.stringify(raw)}: ${why}`,
        params: { detail: true },
      });
      return z.NEVER;
    }
    budgets[parsed.namespace] = parsed.budget;
  }
  return budgets;
});

function budgetEntry(raw: string): { namespace: string; budget: NamespaceBudget } | string {
  const eq = raw.indexOf('=');
  const namespace = raw.slice(0, eq).trim();
  if (eq < 0 || !NAMESPACE.test(namespace)) return 'expected <namespace>=<amounts>';
  const budget: NamespaceBudget = {};
  for (const part of raw
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())) {
    const match = /^(.+)\/(h|day)$/.exec(part);
    const amount = match?.[1] ?? '';
    const n = AMOUNT.test(amount) ? Number(amount) : Number.NaN;
    if (match === null || !(n > 0)) return `${JSON.stringify(part)} is not <USD>/h or <USD>/day`;
    const key = match[2] === 'h' ? 'perHour' : 'perDay';
    if (budget[key] !== undefined) return `${match[2] === 'h' ? '/h' : '/day'} is given twice`;
    budget[key] = n;
  }
  return { namespace, budget };
}
