// `npm run bench -- NAME`: runs one benchmark. Each prints a table with a baseline measured in
// the same run and the ratio to it, and states the machine it ran on.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

interface Entry {
  module: string;
  run: string;
  about: string;
  /** Run the module as its own script (it starts node with the V8 flags it needs). */
  script?: true;
}

const BENCHES: Record<string, Entry> = {
  controller: { module: './controller.js', run: 'runControllerBench', about: 'durable NIC creates/s through the wire at 100k NICs; bytes on disk per NIC' },
  lookup: { module: './lookup.js', run: 'runLookupBench', about: 'VL2 lookups/s vs a TCP echo and Redis, latency, memory per mapping, move fan-out', script: true },
  'lookup-index': { module: './lookup-index.js', run: 'runLookupIndexBench', about: 'the in-memory lookup index alone: bytes/mapping and lookups/s' },
  dataplane: { module: './dataplane.js', run: 'runDataplaneBench', about: 'Linux FDB+neighbour programming rate vs ip/bridge -batch; miss→install latency (root)' },
  sim: { module: './sim.js', run: 'runSimBench', about: 'topology simulation at 100, 300 and 1,000 hosts', script: true },
  wire: { module: './wire.js', run: 'runWireBench', about: 'RPC transport vs a raw framed echo' },
  'wire-fuzz': { module: './wire-fuzz.js', run: 'runWireFuzzBench', about: '1M malformed/mutated frames vs 1M valid ones against a server: frames/s, crashes, RSS' },
  enroll: { module: './enroll.js', run: 'runEnrollBench', about: 'agent enrollment: token -> certificate -> first VL2 answered, vs an enrolled host\'s first VL2' },
  store: { module: './store.js', run: 'runStoreBench', about: 'store commits/s vs raw LevelDB' },
};

function usage(): string {
  return 'usage: npm run bench -- NAME\n' + Object.entries(BENCHES).map(([k, v]) => `  ${k.padEnd(13)} ${v.about}`).join('\n') + '\n';
}

const name = process.argv[2];
const entry = name === undefined ? undefined : BENCHES[name];
if (!entry) {
  process.stderr.write((name ? `unknown benchmark "${name}"\n` : '') + usage());
  process.exitCode = 2;
} else if (entry.script) {
  const r = spawnSync(process.execPath, [...process.execArgv, new URL(entry.module, import.meta.url).pathname], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} else {
  const mod = (await import(pathToFileURL(new URL(entry.module, import.meta.url).pathname).href)) as Record<string, unknown>;
  const fn = mod[entry.run];
  if (typeof fn !== 'function') throw new Error(`${entry.module} does not export ${entry.run}`);
  await (fn as () => Promise<unknown> | unknown)();
}
