// A second `vxfab serve` on a data dir that one already serves refuses to start: it exits
// non-zero and says the directory is in use, instead of LevelDB's bare LEVEL_LOCKED.

import t from 'tap';
import { runCli, startServe } from '../helpers/serve-process.js';

t.test('store serve lock - a second vxfab serve on the same data dir exits non-zero, saying it is in use', async (t) => {
  const first = await startServe(t);
  const second = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', first.dataDir, '--log-level', 'warn']);
  t.not(second.code, 0, 'the second serve exits non-zero');
  t.match(second.stderr, `data dir ${JSON.stringify(first.dataDir)} is in use by another vxfab serve`, second.stderr.trim());
  t.notMatch(second.stdout, /listening/, 'it never listened');
  t.equal(await first.stop(), 0, 'the first serve is unharmed and stops cleanly');
});
