/**
 * What `explain` produces: packets, their fields and the bits inside them, and the decoder's
 * verdict. Plain data, shared by the dissection (explain.ts and the walk over each packet type in
 * explain-packets.ts, its family modules explain-connect.ts, explain-publish.ts and
 * explain-subscribe.ts, and explain-walk.ts), the text and JSON renderings and the generated docs.
 */
import type { MqttProtocolErrorCode } from '../packet/errors.js';
import type { Packet, PacketType } from '../packet/types.js';

/** Some bits of a field's byte (a flag, the QoS), or one byte of the Remaining Length varint. */
export interface ExplainPart {
  /** The byte with only these bits shown (`.... ..1.`), or a varint byte as `1 0001010`. */
  readonly bits: string;
  readonly name: string;
  readonly value: string;
  /** Section and statement ids, e.g. `3.1.2.4 [MQTT-3.1.2-6]`; empty when none applies. */
  readonly spec: string;
}

/** One field of a packet. */
export interface ExplainField {
  /** Position of its first byte in the bytes given to `explain`. */
  readonly offset: number;
  readonly length: number;
  /** Its bytes as hex pairs, or `[N bytes redacted]` for a hidden password. */
  readonly hex: string;
  readonly name: string;
  readonly value: string;
  readonly meaning: string;
  /** Section and statement ids, e.g. `3.1.2.10 [MQTT-3.1.2-23]`. */
  readonly spec: string;
  readonly parts: readonly ExplainPart[];
}

/** Why the decoder refused the bytes: the fields of its MqttProtocolError, as it gave them. */
export interface ExplainProblem {
  readonly code: MqttProtocolErrorCode;
  /**
   * Position in the bytes given to `explain` (the first byte of the offending field, as
   * MqttProtocolError documents); undefined when the decoder gave none.
   */
  readonly offset: number | undefined;
  /** The normative statement broken, e.g. `MQTT-3.3.1-4`, when the specification numbers one. */
  readonly statement: string | undefined;
  /** What is wrong, in a sentence. */
  readonly detail: string;
}

export interface ExplainedPacket {
  /** 1 for the first packet of the input. */
  readonly index: number;
  readonly offset: number;
  /** Bytes of the frame present in the input (fewer than the frame needs when it was cut short). */
  readonly length: number;
  /** Undefined for the reserved types 0 and 15. */
  readonly type: PacketType | undefined;
  /** `client to server`, `server to client` or `both directions`. */
  readonly direction: string;
  /** Its section of the specification, e.g. `3.1`. */
  readonly section: string;
  /** What the packet is for, in a few words. */
  readonly purpose: string;
  readonly fields: readonly ExplainField[];
  /** The decoded packet; undefined when the decoder refused the frame. */
  readonly packet: Packet | undefined;
  readonly problem: ExplainProblem | undefined;
}

export interface Explanation {
  readonly byteLength: number;
  /** In input order; the last one carries the problem, if any (nothing after it is read). */
  readonly packets: readonly ExplainedPacket[];
  readonly problem: ExplainProblem | undefined;
}

export interface ExplainOptions {
  /** Show a CONNECT's password instead of `[redacted]` (default false). */
  readonly showPassword?: boolean | undefined;
}
