import t from 'tap';
import { SimDataPlane } from '../../src/dataplane/sim/sim-dataplane.js';
import { dataplaneSuite } from './suite.js';

dataplaneSuite(t, 'sim', async () => {
  const dp = new SimDataPlane();
  return {
    dp,
    local: '198.18.0.1',
    underlayDev: 'u0',
    async watchWrites() {
      const writes: string[] = [];
      dp.observeWrites((w) => writes.push(`${w.table} ${w.op} ${w.key}`));
      return async () => {
        dp.observeWrites(undefined);
        return writes;
      };
    },
    async lookupIp(vnid, ip) {
      dp.resolve(vnid, ip);
      await new Promise((r) => setImmediate(r));
    },
    cleanup: () => dp.close(),
  };
});
