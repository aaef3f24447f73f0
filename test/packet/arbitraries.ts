/** fast-check arbitraries for valid MQTT 3.1.1 packets: every field within what the spec allows. */
import fc from 'fast-check';
import type {
  ConnectPacket,
  Packet,
  PublishPacket,
  QoS,
  SubackReturnCode,
  Will,
} from '../../src/packet/index.js';

/**
 * Any Unicode scalar value U+0001..U+10FFFF (no surrogate code point), weighted towards the
 * edges of the 1-, 2-, 3- and 4-byte UTF-8 forms. (fast-check's own `unit: 'binary'` builds a
 * table of every code point first, which costs most of a second.)
 */
const codePointArb: fc.Arbitrary<string> = fc
  .oneof(
    fc.integer({ min: 0x01, max: 0x7f }),
    fc.integer({ min: 0x80, max: 0x7ff }),
    fc.integer({ min: 0x800, max: 0xffff }).filter((c) => c < 0xd800 || c > 0xdfff),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
    fc.constantFrom(0x01, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfeff, 0xfffd, 0xffff, 0x10000, 0x10ffff),
  )
  .map((c) => String.fromCodePoint(c));

/** Well-formed text without U+0000 [MQTT-1.5.3-1, MQTT-1.5.3-2]: graphemes, any code point, or ASCII. */
export const textArb = (maxLength = 16): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.string({ unit: 'grapheme', maxLength }),
      fc.string({ unit: codePointArb, maxLength }),
      fc.string({ unit: 'grapheme-ascii', maxLength }),
    )
    .filter((s) => !s.includes('\0'));

/** A PUBLISH topic name: non-empty, no wildcard [MQTT-3.3.2-2, MQTT-4.7.3-1]. */
export const topicArb: fc.Arbitrary<string> = fc.oneof(
  textArb(24).filter((s) => s.length > 0 && !/[+#]/.test(s)),
  fc.constantFrom('a/b', '/sys/pk/dn/thing/event/property/post', '\uFEFFx', '温度/€/😀', '/', 'a//b'),
);

/** One level of a topic filter without wildcards (may be empty). */
const levelArb: fc.Arbitrary<string> = textArb(6).map((s) => s.replace(/[/+#]/g, ''));

/** A topic filter with wildcards placed as section 4.7.1 allows [MQTT-4.7.1-2, MQTT-4.7.1-3]. */
export const filterArb: fc.Arbitrary<string> = fc
  .tuple(fc.array(fc.oneof(levelArb, fc.constant('+')), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([levels, multi]) => (multi ? [...levels, '#'] : levels).join('/'))
  .filter((f) => f.length > 0);

export const payloadArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }) },
);

export const packetIdArb = fc.integer({ min: 1, max: 65_535 });
export const qosArb: fc.Arbitrary<QoS> = fc.constantFrom(0, 1, 2);

const willArb: fc.Arbitrary<Will> = fc.record({
  topic: topicArb,
  payload: payloadArb,
  qos: qosArb,
  retain: fc.boolean(),
});

/** Only the keys whose value is defined, as the decoder builds its packets. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * CONNECT with every valid flag combination: will or not, user name or not, password only with a
 * user name [MQTT-3.1.2-22], a zero-length client id only with clean session [MQTT-3.1.3-7].
 */
export const connectArb: fc.Arbitrary<ConnectPacket> = fc
  .record({
    clientId: textArb(23),
    keepalive: fc.integer({ min: 0, max: 65_535 }),
    clean: fc.boolean(),
    username: fc.option(textArb(), { nil: undefined }),
    password: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
    will: fc.option(willArb, { nil: undefined }),
  })
  .map((p) =>
    defined({
      type: 'connect' as const,
      ...p,
      clean: p.clean || p.clientId === '',
      password: p.username === undefined ? undefined : p.password,
    }),
  );

export const publishArb: fc.Arbitrary<PublishPacket> = fc
  .record({ topic: topicArb, payload: payloadArb, qos: qosArb, retain: fc.boolean(), dup: fc.boolean(), packetId: packetIdArb })
  .map(({ packetId, ...p }) =>
    p.qos === 0 ? { type: 'publish' as const, ...p, dup: false } : { type: 'publish' as const, ...p, packetId },
  );

const ackArb = fc
  .tuple(fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback') as fc.Arbitrary<
    'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback'
  >, packetIdArb)
  .map(([type, packetId]): Packet => ({ type, packetId }));

const subackCodeArb: fc.Arbitrary<SubackReturnCode> = fc.constantFrom(0, 1, 2, 0x80);

/** Every packet type, valid values only. */
export const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  { weight: 2, arbitrary: connectArb },
  fc.oneof(
    fc.record({ type: fc.constant('connack' as const), sessionPresent: fc.constant(true), returnCode: fc.constant(0 as const) }),
    fc.record({ type: fc.constant('connack' as const), sessionPresent: fc.constant(false), returnCode: fc.constantFrom(0, 1, 2, 3, 4, 5) }),
  ),
  { weight: 4, arbitrary: publishArb },
  ackArb,
  fc.record({
    type: fc.constant('subscribe' as const),
    packetId: packetIdArb,
    subscriptions: fc.array(fc.record({ topicFilter: filterArb, qos: qosArb }), { minLength: 1, maxLength: 5 }),
  }),
  fc.record({
    type: fc.constant('suback' as const),
    packetId: packetIdArb,
    returnCodes: fc.array(subackCodeArb, { minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    type: fc.constant('unsubscribe' as const),
    packetId: packetIdArb,
    topicFilters: fc.array(filterArb, { minLength: 1, maxLength: 5 }),
  }),
  fc.constantFrom<Packet>({ type: 'pingreq' }, { type: 'pingresp' }, { type: 'disconnect' }),
);
