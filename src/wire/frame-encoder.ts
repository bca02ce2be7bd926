// Encoding frames in the delimited form FrameDecoder reads: a varint length, then the Frame.
// Many frames go into one protobufjs Writer (fork before each, ldelim after), so a batch costs one
// buffer, not one per frame.
import protobuf from 'protobufjs/minimal.js';
import { vxfab } from './gen/proto.js';

export type FrameInit = vxfab.v1.Frame.$Properties;

/** Appends one length-delimited frame to `writer` and returns the writer. */
export function writeFrame(writer: protobuf.Writer, frame: FrameInit): protobuf.Writer {
  return vxfab.v1.Frame.encode(frame, writer.fork()).ldelim();
}

/** One frame, length prefix included. */
export function encodeFrame(frame: FrameInit): Uint8Array {
  return writeFrame(protobuf.Writer.create(), frame).finish();
}

/** Many frames, one after another in one buffer, as they would travel on a connection. */
export function encodeFrames(frames: Iterable<FrameInit>): Uint8Array {
  const writer = protobuf.Writer.create();
  for (const frame of frames) writeFrame(writer, frame);
  return writer.finish();
}

/** Something that encodes a message into a Writer: a generated message class. */
export interface BodyEncoder {
  encode(message: never, writer?: protobuf.Writer): protobuf.Writer;
}

/**
 * The tag of Frame.body (field 4, length-delimited), taken from the generated encoder rather than
 * written out here, so this file does not restate the schema.
 */
const BODY_TAG = vxfab.v1.Frame.encode({ body: Uint8Array.of(1) }).finish()[0]!;

/**
 * Appends one length-delimited frame whose body is `message` encoded by `encoder`, encoding the
 * message straight into the batch instead of into a buffer of its own that would then be copied.
 * The bytes decode exactly like writeFrame({ kind, id, method, body: encoder.encode(message) }).
 */
export function writeMessageFrame(writer: protobuf.Writer, kind: vxfab.v1.FrameKind, id: number, method: string,
  encoder: BodyEncoder, message: object): protobuf.Writer {
  writer.fork();
  vxfab.v1.Frame.encode(method === '' ? { kind, id } : { kind, id, method }, writer);
  writer.uint32(BODY_TAG).fork();
  (encoder.encode as (m: object, w: protobuf.Writer) => protobuf.Writer)(message, writer).ldelim();
  return writer.ldelim();
}
