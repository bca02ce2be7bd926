// @peculiar/x509 resolves its algorithm providers through tsyringe, which refuses to load unless
// the Reflect metadata API (the decorator-metadata proposal) exists; the library's README asks
// for a polyfill such as reflect-metadata. tsyringe calls only defineMetadata, getMetadata and
// getOwnMetadata, so this file implements those three on a WeakMap rather than adding a second
// dependency. It installs nothing when a real polyfill is already present. Import it before
// @peculiar/x509 (pki.ts does).

type Target = object;
type MetaMap = Map<unknown, unknown>;

interface ReflectMetadata {
  defineMetadata(key: unknown, value: unknown, target: Target, property?: string | symbol): void;
  getOwnMetadata(key: unknown, target: Target, property?: string | symbol): unknown;
  getMetadata(key: unknown, target: Target, property?: string | symbol): unknown;
}

const store = new WeakMap<Target, Map<string | symbol | undefined, MetaMap>>();

function own(target: Target, property: string | symbol | undefined, create: boolean): MetaMap | undefined {
  let byProperty = store.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let map = byProperty.get(property);
  if (!map && create) {
    map = new Map();
    byProperty.set(property, map);
  }
  return map;
}

const shim: ReflectMetadata = {
  defineMetadata(key, value, target, property) {
    own(target, property, true)?.set(key, value);
  },
  getOwnMetadata(key, target, property) {
    return own(target, property, false)?.get(key);
  },
  getMetadata(key, target, property) {
    // Metadata is inherited along the prototype chain, as in the proposal.
    for (let t: Target | null = target; t !== null; t = Object.getPrototypeOf(t) as Target | null) {
      const map = own(t, property, false);
      if (map?.has(key)) return map.get(key);
    }
    return undefined;
  },
};

const reflect = Reflect as unknown as Partial<ReflectMetadata>;
if (typeof reflect.getMetadata !== 'function') Object.assign(Reflect, shim);
