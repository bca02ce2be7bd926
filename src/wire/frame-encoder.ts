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
