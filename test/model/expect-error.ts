// tap's t.throws matches on a pattern object; this helper checks a VxfabError's stable parts
// (code, field, value) and optionally the message, and says which part differed.
import type { Test } from 'tap';
import { VxfabError, type ErrorCode } from '../../src/model/errors.js';

export interface Expected {
  field?: string;
  value?: string;
  message?: RegExp;
}

export function throwsVx(t: Test, fn: () => unknown, code: ErrorCode, expected: Expected = {}, what?: string): void {
  const label = what ?? `throws ${code}`;
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof VxfabError)) {
    t.fail(`${label}: expected VxfabError ${code}, got ${caught === undefined ? 'no error' : String(caught)}`);
    return;
  }
  const want: Record<string, unknown> = { code };
  const got: Record<string, unknown> = { code: caught.code };
  if (expected.field !== undefined) {
    want.field = expected.field;
    got.field = caught.field;
  }
  if (expected.value !== undefined) {
    want.value = expected.value;
    got.value = caught.value;
  }
  t.same(got, want, label);
  if (expected.message !== undefined) t.match(caught.message, expected.message, `${label}: message`);
}
