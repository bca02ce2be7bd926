// The vxfab wire protocol version, carried in the HELLO frame each side sends first. A peer whose
// hello carries another version is answered with UNSUPPORTED_VERSION and closed, so bump this only
// for changes an older peer would misread (new frame kinds, changed meaning of a field). Adding a
// service method or a message field is not a version change: protobuf skips unknown fields and an
// unknown method is answered with UNIMPLEMENTED.
//
// History:
//   1 (2026-11): first version: HELLO exchange, unary (REQUEST/REPLY) and server-streaming
//                (STREAM_ITEM/STREAM_END/CANCEL) calls, typed errors, varint-delimited frames.
export const PROTOCOL_VERSION = 1;
