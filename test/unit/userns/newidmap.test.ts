import { expect, it } from 'vitest';
import { hasCapability } from '../../../src/userns/newidmap.js';

it('reads CAP_SETUID and CAP_SETGID from CapEff, to write nested maps without newuidmap', () => {
  const status = (eff: string) => `Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t${eff}\nCapBnd:\t000001ffffffffff\n`;
  expect(hasCapability(7, status('000001ffffffffff'))).toBe(true);
  expect(hasCapability(6, status('0000000000000080'))).toBe(false);
  expect(hasCapability(7, status('0000000000000080'))).toBe(true);
  expect(hasCapability(7, status('0000000000000000'))).toBe(false);
});
