// After any reconnect — to the same lookup server or another, after a failover or a time with no
// server at all — the agent's tables are right as soon as it reports the session live: a NIC that
// moved, a host that joined or left a network's flood list while the agent was away are in the
// kernel then, not after a cache TTL. Also a lookup server that lags behind what the agent had
// applied (a replica whose change feed is behind) must not hand it older state.
import t, { type Test } from 'tap';
import type { Agent, AgentMode } from '../../src/agent/agent.js';
import { Fabric, eventually, until, type LookupServer } from './fabric.js';

const VNID = 5001;
const B_MAC = '02:00:00:00:02:01';
const B_IP = '100.64.1.21';

/** Waits for a live session newer than `before` (a liveSessions count). */
function liveAgain(agent: Agent, before: number, timeoutMs = 8000) {
  return until(agent, (s) => s.lookup.live && s.lookup.liveSessions > before, 'a new live session', timeoutMs);
}

/** h1 runs `mode` against the given lookup servers; a (h1) and b (h2) exist; an on-demand h1 has
 *  resolved b. Returns once that is in the kernel. */
async function setup(t: Test, f: Fabric, mode: AgentMode, lookups: string[]) {
  await f.basic();
  await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  const b = await f.nic('h2', B_MAC, B_IP);
  const { agent, dp } = await f.agent('h1', mode, { lookups, cacheTtlMs: 600_000 });
  await until(agent, (s) => s.lookup.live && s.networks[0]?.loaded === true, 'first session live');
  if (mode === 'on-demand') {
    dp.resolve(VNID, B_IP);
    await eventually(() => dp.neighLookup(VNID, B_IP) === B_MAC && dp.fdbLookup(VNID, B_MAC) === '198.18.0.2', 'b resolved');
  } else {
    await eventually(() => dp.fdbLookup(VNID, B_MAC) === '198.18.0.2', 'b programmed');
  }
  t.same(dp.floodList(VNID), ['198.18.0.2'], 'flood: h2');
  return { agent, dp, b };
}

/** Two ways to be away: (a) the server goes, the agent fails over to another (started only once
 *  the change is made, so the change falls in the gap); (b) the only server goes and comes back. */
type Outage = 'failover' | 'no-server';

async function servers(f: Fabric, outage: Outage): Promise<{ lookups: string[]; first: LookupServer; back: LookupServer }> {
  const first = await f.lookupServer();
  if (outage === 'no-server') return { lookups: [first.address], first, back: first };
  const second = await f.lookupServer();
  await second.stop();
  return { lookups: [first.address, second.address], first, back: second };
}

/** Stops `first`, waits for the agent to notice, runs `change`, starts `back`, and returns the
 *  data plane as the agent reports the new session live. */
async function away(agent: Agent, s: { first: LookupServer; back: LookupServer }, change: () => Promise<void>): Promise<void> {
  const before = agent.status().lookup.liveSessions;
  await s.first.stop();
  await until(agent, (st) => !st.lookup.live, 'the session is lost');
  await change();
  await s.back.start();
  await liveAgain(agent, before);
}

for (const mode of ['on-demand', 'push'] as const) {
  for (const outage of ['failover', 'no-server'] as const) {
    t.test(`agent ${mode} - a NIC that moved during a lookup outage (${outage}) is right once the session is live`, async (t) => {
      const f = await Fabric.start(t);
      const s = await servers(f, outage);
      const { agent, dp, b } = await setup(t, f, mode, s.lookups);
      await away(agent, s, async () => { await f.controller.moveNic(b.id, 'h3'); });
      t.equal(dp.fdbLookup(VNID, B_MAC), '198.18.0.3', 'the FDB entry points at the new host');
      t.equal(dp.neighLookup(VNID, B_IP), B_MAC, 'the proxy entry stays');
      t.same(dp.floodList(VNID), ['198.18.0.3'], 'the flood list follows: h2 left, h3 joined');
      if (outage === 'failover') t.equal(agent.status().lookup.address, s.back.address, 'on the other server');
    });

    t.test(`agent ${mode} - hosts joining and leaving the flood list during a lookup outage (${outage})`, async (t) => {
      const f = await Fabric.start(t);
      const s = await servers(f, outage);
      const { agent, dp } = await setup(t, f, mode, s.lookups);
      const c = await f.nic('h3', '02:00:00:00:03:01', '100.64.1.31');
      await eventually(() => dp.floodList(VNID).length === 2, 'h3 joined (live)');
      await away(agent, s, async () => {
        await f.controller.deleteNic(c.id); // h3 leaves
        await f.controller.registerNode('h4', '198.18.0.4', 4789);
        await f.nic('h4', '02:00:00:00:04:01', '100.64.1.41'); // h4 joins
      });
      t.same(dp.floodList(VNID), ['198.18.0.2', '198.18.0.4'], 'h3 gone, h4 in, right at live');
      if (mode === 'push') t.equal(dp.fdbLookup(VNID, '02:00:00:00:04:01'), '198.18.0.4', 'push: the new NIC programmed');
      t.equal(dp.fdbLookup(VNID, '02:00:00:00:03:01'), undefined, 'the deleted NIC has no entry');
    });
  }

  t.test(`agent ${mode} - a failover to a lagging replica does not load older state`, async (t) => {
    const f = await Fabric.start(t);
    const current = await f.lookupServer();
    const lagging = await f.laggingServer();
    await lagging.stop();
    const { agent, dp, b } = await setup(t, f, mode, [current.address, lagging.address]);
    lagging.pause();
    const lagAt = lagging.revision;
    await f.controller.moveNic(b.id, 'h3');
    await eventually(() => dp.fdbLookup(VNID, B_MAC) === '198.18.0.3', 'the move applied live');
    const before = agent.status().lookup.liveSessions;
    t.ok(agent.status().revision > lagAt, 'the agent is ahead of the lagging replica');
    await current.stop();
    await lagging.start();
    await eventually(() => agent.status().lookup.address === lagging.address && agent.status().lookup.state === 'connected', 'on the lagging replica');
    await new Promise((r) => setTimeout(r, 400));
    t.equal(agent.status().lookup.liveSessions, before, 'no session goes live on a server behind the agent');
    t.equal(dp.fdbLookup(VNID, B_MAC), '198.18.0.3', 'nothing older was loaded meanwhile');
    t.same(dp.floodList(VNID), ['198.18.0.3']);
    lagging.catchUp();
    await liveAgain(agent, before);
    t.equal(agent.status().lookup.address, lagging.address);
    t.equal(dp.fdbLookup(VNID, B_MAC), '198.18.0.3', 'live on the caught-up replica, still right');
    t.same(dp.floodList(VNID), ['198.18.0.3']);
    await f.controller.moveNic(b.id, 'h2');
    await eventually(() => dp.fdbLookup(VNID, B_MAC) === '198.18.0.2', 'and it follows later moves');
  });
}

t.test('agent on-demand - a kernel miss during a session that is not live yet is not answered', async (t) => {
  const f = await Fabric.start(t);
  const lagging = await f.laggingServer();
  const current = await f.lookupServer();
  await lagging.stop();
  const { agent, dp } = await setup(t, f, 'on-demand', [current.address, lagging.address]);
  const c = await f.nic('h3', '02:00:00:00:03:01', '100.64.1.31');
  await eventually(() => lagging.revision === agent.status().revision, 'the replica has c on h3');
  lagging.pause();
  await f.controller.moveNic(c.id, 'h2');
  await until(agent, (s) => s.revision > lagging.revision, 'the agent saw the move');
  const before = agent.status().lookup.liveSessions;
  await current.stop();
  await lagging.start();
  await eventually(() => agent.status().lookup.address === lagging.address && agent.status().lookup.state === 'connected', 'on the lagging replica');
  const asked = agent.status().misses.received;
  dp.resolve(VNID, '100.64.1.31');
  await until(agent, (s) => s.misses.received > asked, 'miss seen');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(dp.neighLookup(VNID, '100.64.1.31'), undefined, 'the lagging replica (which has c on h3) is not asked');
  lagging.catchUp();
  await liveAgain(agent, before);
  dp.resolve(VNID, '100.64.1.31');
  await eventually(() => dp.fdbLookup(VNID, '02:00:00:00:03:01') === '198.18.0.2', 'resolved once live: on h2');
});
