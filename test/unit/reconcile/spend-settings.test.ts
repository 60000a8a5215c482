import { describe, expect, it } from 'vitest';
import { configFromFlags, loadConfigFromEnv, reconcileConfig } from '../../../lib/config/config.ts';
import { invalidInputIssues } from '../../support/invalid-input.ts';

describe('spend-limit settings (ADR 0019)', () => {
  it('enables no namespace and sets no limit by default', () => {
    expect(loadConfigFromEnv({}).spend).toEqual({ rentNamespaces: [] });
  });

  it.each([
    ['ANEX_RENT_NAMESPACES', 'ml, team-a,ml', { rentNamespaces: ['ml', 'team-a'] }],
    ['ANEX_RENT_NAMESPACES', '*', { rentNamespaces: '*' }],
    ['ANEX_MAX_PRICE_PER_HOUR', '2.5', { rentNamespaces: [], maxPricePerHour: 2.5 }],
    ['ANEX_MAX_INSTANCES', '8', { rentNamespaces: [], maxInstances: 8 }],
    ['ANEX_MAX_SPEND_PER_HOUR', '1.0', { rentNamespaces: [], maxSpendPerHour: 1 }],
    [
      'ANEX_NAMESPACE_BUDGETS',
      'team-a=2.5/h,40/day; team-b=1/h',
      {
        rentNamespaces: [],
        namespaceBudgets: { 'team-a': { perHour: 2.5, perDay: 40 }, 'team-b': { perHour: 1 } },
      },
    ],
  ])('%s=%s', (name, value, spend) => {
    expect(loadConfigFromEnv({ [name]: value }).spend).toEqual(spend);
  });

  it.each([
    ['ANEX_RENT_NAMESPACES', 'ML', 'not a namespace name: "ML"'],
    ['ANEX_RENT_NAMESPACES', ',', 'a comma list of namespace names'],
    ['ANEX_MAX_PRICE_PER_HOUR', '0', 'an amount of USD'],
    ['ANEX_MAX_PRICE_PER_HOUR', '$2', 'an amount of USD'],
    ['ANEX_MAX_INSTANCES', '0', 'a whole number from 1 to 10000'],
    ['ANEX_MAX_SPEND_PER_HOUR', '-1', 'an amount of USD'],
    ['ANEX_NAMESPACE_BUDGETS', 'team-a=2.5', 'entry "team-a=2.5": "2.5" is not <USD>/h or <USD>/day'],
    ['ANEX_NAMESPACE_BUDGETS', 'team-a:2/h', 'entry "team-a:2/h": expected <namespace>=<amounts>'],
    ['ANEX_NAMESPACE_BUDGETS', 'a=1/h;a=2/day', 'entry "a=2/day": namespace a is listed twice'],
    ['ANEX_NAMESPACE_BUDGETS', 'a=1/h,2/h', 'entry "a=1/h,2/h": /h is given twice'],
  ])('%s=%s is refused, naming the bad entry and the form', (name, value, words) => {
    const issues = invalidInputIssues(() => loadConfigFromEnv({ [name]: value }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(`${name}: ${JSON.stringify(value)} is not`);
    expect(issues[0]).toContain(words);
  });

  it('takes the same settings as `anex run` flags, and hands them to the reconciler', () => {
    const flags = { rentNamespaces: 'ml', maxSpendPerHour: '1', namespaceBudgets: 'ml=20/day' };
    expect(reconcileConfig(configFromFlags(flags)).spend).toEqual({
      rentNamespaces: ['ml'],
      maxSpendPerHour: 1,
      namespaceBudgets: { ml: { perDay: 20 } },
    });
  });
});
