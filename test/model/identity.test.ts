import t from 'tap';
import { describeIdentity, identityUri, parseIdentityUri, sameIdentity, type Identity } from '../../src/model/identity.js';
import { throwsVx } from './expect-error.js';

t.test('identity - every kind round-trips through its URI', async (t) => {
  const ids: Identity[] = [
    { kind: 'admin', name: 'root' },
    { kind: 'tenant', tenant: 'acme', name: 'ops' },
    { kind: 'node', node: 'rack1.host-7' },
    { kind: 'replica', name: 'lookup-2' },
    { kind: 'server', name: 'vxfab-serve' },
  ];
  for (const id of ids) {
    const uri = identityUri(id);
    t.ok(uri.startsWith('vxfab://'), uri);
    t.same(parseIdentityUri(uri), id, uri);
    t.ok(sameIdentity(parseIdentityUri(uri), id));
    t.ok(describeIdentity(id).length > 0);
  }
});

t.test('identity - anything else is INVALID_ARGUMENT naming the field', async (t) => {
  for (const bad of ['', 'node/h1', 'vxfab://', 'vxfab://node', 'vxfab://node/H1', 'vxfab://node/h1/x', 'vxfab://tenant/acme',
    'vxfab://root/x', 'https://node/h1', 'vxfab://admin/a/b', 'vxfab://tenant/Acme/ops']) {
    throwsVx(t, () => parseIdentityUri(bad, 'cert.san'), 'INVALID_ARGUMENT', { field: 'cert.san' }, JSON.stringify(bad));
  }
});
