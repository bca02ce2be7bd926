import t from 'tap';
import { MemoryStore } from '../../src/store/memory-store.js';
import { storeSuite } from './suite.js';

storeSuite(t, { name: 'memory', durable: false, open: (options) => MemoryStore.open(options) });
