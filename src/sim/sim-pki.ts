// The simulated fabric's trust: a fabric CA made in memory for the run, and credentials issued
// from it for every part (the controller and each lookup server, the operator, each host's agent,
// each replica), so that a topology run goes through the same mutual TLS and the same
// authorization policy (src/security/policy.ts) as a real fabric: an agent in the simulation can
// only do what a real agent may.
//
// One key pair serves every certificate of a run: certificates, not keys, carry identities, and
// making a key per host would cost a thousand key generations at boot for nothing the simulation
// checks.
import { identityUri, type Identity } from '../model/identity.js';
import type { Credentials } from '../security/credentials.js';
import { FabricCa, newKeyPair, type KeyPair } from '../security/pki.js';
import type { ClientTlsOptions } from '../wire/transport/tls.js';

/** A run is hours at most; a day of validity leaves no expiry to simulate by accident. */
const TTL_MS = 24 * 3600_000;

export class SimPki {
  private readonly issued = new Map<string, Promise<Credentials>>();

  private constructor(private readonly ca: FabricCa, private readonly key: KeyPair) {}

  static async create(): Promise<SimPki> {
    const [ca, key] = await Promise.all([FabricCa.create('vxfab simulation'), newKeyPair()]);
    return new SimPki(ca, key);
  }

  get caPem(): string {
    return this.ca.certPem;
  }

  /** Credentials naming `identity` (issued once per run, then reused). */
  credentials(identity: Identity): Promise<Credentials> {
    const uri = identityUri(identity);
    let c = this.issued.get(uri);
    if (c === undefined) {
      c = this.ca.issue({ identity, publicKeyPem: this.key.publicKeyPem, ttlMs: TTL_MS, ips: ['127.0.0.1'] })
        .then((r) => ({ certPem: r.certPem, keyPem: this.key.keyPem, caPem: this.ca.certPem }));
      this.issued.set(uri, c);
    }
    return c;
  }

  /** A client's TLS options as `identity`. */
  async client(identity: Identity): Promise<ClientTlsOptions> {
    return { credentials: await this.credentials(identity), caPem: this.ca.certPem };
  }
}
