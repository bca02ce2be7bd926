// Gathers every item of a server stream: for List-style calls whose result fits in memory.
import type { MethodDesc, ReqInit, ResOf } from '../rpc.js';
import type { CallOptions, RpcClient } from './client.js';

export async function collect<M extends MethodDesc<unknown, unknown, true>>(client: RpcClient, desc: M, req: ReqInit<M>,
  options?: CallOptions): Promise<Array<ResOf<M>>> {
  const items: Array<ResOf<M>> = [];
  await client.stream(desc, req, (item) => { items.push(item); }, options).done;
  return items;
}
