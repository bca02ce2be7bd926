// Converts between the in-process typed error (VxfabError) and its wire form (vxfab.v1.Error).
// The wire enum and ERROR_CODES name the same codes; the check below fails at load time if the
// two ever drift apart, rather than mislabelling errors at run time.
import { ERROR_CODES, VxfabError, type ErrorCode } from '../model/errors.js';
import { vxfab } from './gen/proto.js';

const wireCodes = vxfab.v1.ErrorCode as unknown as Record<string, number> & Record<number, string>;

for (const code of ERROR_CODES) {
  if (typeof wireCodes[code] !== 'number') {
    throw new Error(`error code ${code} of src/model/errors.ts has no vxfab.v1.ErrorCode value`);
  }
}

/** The wire enum value of an error code. */
export function wireErrorCode(code: ErrorCode): vxfab.v1.ErrorCode {
  return wireCodes[code] as vxfab.v1.ErrorCode;
}

/** The wire form of a typed error. */
export function toWireError(e: VxfabError): vxfab.v1.Error.$Properties {
  return { code: wireErrorCode(e.code), message: e.message, field: e.field, value: e.value };
}

/** The wire form of any thrown value: VxfabErrors keep their code; anything else is INTERNAL, with
 *  a message that does not leak the internals (the caller logs the original). */
export function toWireErrorOrInternal(e: unknown, what: string): vxfab.v1.Error.$Properties {
  if (e instanceof VxfabError) return toWireError(e);
  return { code: vxfab.v1.ErrorCode.INTERNAL, message: `internal error in ${what}`, field: '', value: '' };
}

/** The typed error a wire error stands for. A code this build does not know (a newer peer) or an
 *  unspecified code becomes INTERNAL, with the number kept in the message. */
export function fromWireError(w: vxfab.v1.Error.$Properties | null | undefined): VxfabError {
  const num = w?.code ?? 0;
  const name = wireCodes[num];
  const message = w?.message ?? '';
  const details = { field: w?.field ?? '', value: w?.value ?? '' };
  if (name !== undefined && (ERROR_CODES as readonly string[]).includes(name)) {
    return new VxfabError(name as ErrorCode, message, details);
  }
  return new VxfabError('INTERNAL', `peer sent error code ${num}: ${message}`, details);
}
