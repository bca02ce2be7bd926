// The socket side of the wire layer: TCP server and client speaking vxfab frames.
export { RpcServer, type RpcServerOptions, type UnaryHandler, type StreamHandler, type RawHandler, type ResInit } from './server.js';
export { RpcClient, type RpcClientOptions, type CallOptions, type StreamCall, type RpcClientEvents } from './client.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { parseAddress, formatAddress, type HostPort } from './address.js';
