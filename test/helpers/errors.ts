import { expect } from 'vitest';
import { SignetError } from '../../src/util/index.ts';

/** The coded error `fn` throws; fails the test when it throws anything else or nothing. */
export function refusal(fn: () => unknown): SignetError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SignetError);
    return err as SignetError;
  }
  throw new Error('expected a refusal (a SignetError), but nothing was thrown');
}
