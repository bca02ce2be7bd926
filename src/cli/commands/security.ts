// Enrollment tokens and credential files: `vxfab token create`, `vxfab credentials create`.
// The private key of a credentials file is made here, on the operator's machine: only its CSR
// goes to the controller, which signs it with the fabric CA.
import { access } from 'node:fs/promises';
import type { Command } from 'commander';
import { identityUri, type Identity } from '../../model/identity.js';
import { validateName } from '../../model/names.js';
import { writeCredentials } from '../../security/credentials.js';
import { vxfab } from '../../wire/gen/proto.js';
import { Controller } from '../../wire/gen/services.js';
import { UsageError } from '../exit-codes.js';
import { parseDuration } from '../parse.js';
import type { Runner } from '../runner.js';

export function securityCommands(program: Command, run: Runner): void {
  const token = program.command('token').description('one-time enrollment tokens for agents and lookup replicas');
  token.command('create').description('print a token that enrolls one node (vxfab agent --join) or replica (vxfab lookup serve --join)')
    .option('--node <name>', 'the node the token enrolls')
    .option('--replica <name>', 'the lookup replica the token enrolls')
    .option('--ttl <duration>', 'how long the token stays valid (30m, 1h, 2d; at most 7d)', '1h')
    .action((o: { node?: string; replica?: string; ttl: string }) => run(async (ctx) => {
      if ((o.node === undefined) === (o.replica === undefined)) throw new UsageError('token create: give exactly one of --node NAME or --replica NAME');
      const ttlMs = parseDuration('--ttl', o.ttl);
      const client = await ctx.connect();
      const r = await client.call(Controller.CreateToken, {
        kind: o.node !== undefined ? vxfab.v1.TokenKind.TOKEN_KIND_NODE : vxfab.v1.TokenKind.TOKEN_KIND_REPLICA,
        name: o.node ?? o.replica, ttlMs,
      });
      ctx.out.done({ token: r.token, identity: r.identity, expires: new Date(Number(r.expiresMs)).toISOString() }, r.token);
    }));

  const creds = program.command('credentials').description('credential files for tenant operators and administrators');
  creds.command('create').description('make a key, have the fabric CA certify it, and write a credentials file (0600)')
    .option('--tenant <tenant>', 'a tenant operator\'s credentials, for this tenant')
    .option('--admin', 'administrator credentials')
    .option('--name <name>', 'who holds them (default: operator, or admin)')
    .requiredOption('--out <file>', 'the credentials file to write (refused when it exists)')
    .option('--ttl <duration>', 'validity (default 365d)')
    .action((o: { tenant?: string; admin?: boolean; name?: string; out: string; ttl?: string }) => run(async (ctx) => {
      if ((o.tenant === undefined) === (o.admin !== true)) throw new UsageError('credentials create: give exactly one of --tenant TENANT or --admin');
      const who: Identity = o.tenant !== undefined
        ? { kind: 'tenant', tenant: validateName(o.tenant, 'tenant'), name: validateName(o.name ?? 'operator', 'name') }
        : { kind: 'admin', name: validateName(o.name ?? 'admin', 'name') };
      const ttlMs = o.ttl === undefined ? 0 : parseDuration('--ttl', o.ttl);
      if (await access(o.out).then(() => true, () => false)) throw new UsageError(`--out "${o.out}": the file exists; remove it or choose another`);
      // Loaded only here: the X.509 library would cost every other command's start.
      const { makeCsr, newKeyPair } = await import('../../security/pki.js');
      const keys = await newKeyPair();
      const csrPem = await makeCsr(keys.keyPem, who);
      const client = await ctx.connect();
      const r = await client.call(Controller.IssueCredentials, { identity: identityUri(who), csrPem, ttlMs });
      await writeCredentials(o.out, { certPem: r.certPem, keyPem: keys.keyPem, caPem: r.caPem });
      ctx.out.done({ file: o.out, identity: r.identity, serial: r.serial, notAfter: new Date(Number(r.notAfterMs)).toISOString() },
        `wrote ${o.out} (${r.identity}, valid until ${new Date(Number(r.notAfterMs)).toISOString()})`);
    }));
}
