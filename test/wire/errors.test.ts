import t from 'tap';
import { ERROR_CODES, VxfabError } from '../../src/model/errors.js';
import { fromWireError, toWireError, toWireErrorOrInternal, wireErrorCode } from '../../src/wire/errors.js';
import { vxfab } from '../../src/wire/gen/proto.js';

t.test('wire - every error code survives the round trip through vxfab.v1.Error', async (t) => {
  for (const code of ERROR_CODES) {
    const e = new VxfabError(code, `vnid "99": ${code}`, { field: 'vnid', value: '99' });
    const wire = vxfab.v1.Error.decode(vxfab.v1.Error.encode(toWireError(e)).finish());
    t.equal(vxfab.v1.ErrorCode[wire.code], code, `${code} has the same name on the wire`);
    t.equal(wireErrorCode(code), wire.code);
    const back = fromWireError(wire);
    t.same({ code: back.code, message: back.message, field: back.field, value: back.value },
      { code, message: `vnid "99": ${code}`, field: 'vnid', value: '99' });
  }
});

t.test('wire - unknown or unspecified wire codes become INTERNAL', async (t) => {
  const e = fromWireError({ code: 99 as vxfab.v1.ErrorCode, message: 'from the future' });
  t.equal(e.code, 'INTERNAL');
  t.match(e.message, /error code 99: from the future/);
  t.equal(fromWireError({ message: 'no code' }).code, 'INTERNAL');
  t.equal(fromWireError(undefined).code, 'INTERNAL');
});

t.test('wire - non-typed errors go out as INTERNAL without their message', async (t) => {
  const w = toWireErrorOrInternal(new Error('password=hunter2'), 'vxfab.v1.Lookup/Vl2');
  t.equal(w.code, vxfab.v1.ErrorCode.INTERNAL);
  t.equal(w.message, 'internal error in vxfab.v1.Lookup/Vl2');
});

t.test('wire - 64-bit fields decode as numbers', async (t) => {
  const page = vxfab.v1.BulkPage.decode(vxfab.v1.BulkPage.encode({ revision: 2 ** 40 + 3 }).finish());
  t.equal(typeof page.revision, 'number');
  t.equal(page.revision, 2 ** 40 + 3);
});
