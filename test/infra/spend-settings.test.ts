import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../infra/settings.ts';

// ADR 0019: the spend limits reach the stack through anex:environment and are checked at synth,
// so a bad budget stops `cdk synth` instead of every cold start.
describe('anex:environment spend limits', () => {
  it('accepts the limits as ANEX_* variables', () => {
    const environment = {
      ANEX_RENT_NAMESPACES: 'ml,team-a',
      ANEX_MAX_PRICE_PER_HOUR: '2.5',
      ANEX_MAX_INSTANCES: '8',
      ANEX_MAX_SPEND_PER_HOUR: '10',
      ANEX_NAMESPACE_BUDGETS: 'team-a=2.5/h,40/day',
    };
    expect(parseSettings({ 'anex:environment': JSON.stringify(environment) }).environment).toEqual(
      environment,
    );
  });

  it.each([
    [
      'ANEX_NAMESPACE_BUDGETS',
      'team-a=2.5',
      /ANEX_NAMESPACE_BUDGETS: "team-a=2\.5" is not .*entry "team-a=2\.5"/,
    ],
    [
      'ANEX_RENT_NAMESPACES',
      'Team_A',
      /ANEX_RENT_NAMESPACES: "Team_A" is not .*not a namespace name: "Team_A"/,
    ],
    ['ANEX_MAX_SPEND_PER_HOUR', 'ten', /ANEX_MAX_SPEND_PER_HOUR: "ten" is not an amount of USD/],
  ])('stops the synth on %s=%s, naming the entry and the form', (name, value, words) => {
    expect(() => parseSettings({ 'anex:environment': JSON.stringify({ [name]: value }) })).toThrow(words);
  });
});
