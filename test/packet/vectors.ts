/**
 * Annotated wire vectors for all 14 MQTT 3.1.1 packet types, written field by field from the
 * specification (not produced by the codec). Each one is a valid frame and the packet it stands
 * for; the vector test runs decode, encode and round trip on every entry, and the fuzzer mutates
 * them.
 */
import type { Packet } from '../../src/packet/index.js';
import { hex } from '../support/hex.js';

export interface Vector {
  readonly name: string;
  readonly packet: Packet;
  readonly bytes: Uint8Array;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The platform page's worked example, as signCredentials produces it (checked in the test). */
export const PLATFORM_EXAMPLE = {
  clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=789|',
  username: 'device&pk',
  password: 'FAFD82A3D602B37FB0FA8B7892F24A477F851A14',
} as const;

export const VECTORS: readonly Vector[] = [
  // ---------------------------------------------------------------------------------- CONNECT
  {
    name: 'CONNECT: client id only, clean session',
    packet: { type: 'connect', clientId: 'abc', keepalive: 60, clean: true },
    bytes: hex`10 0f              # CONNECT, remaining length 15
               00 04 4d 51 54 54  # protocol name "MQTT"
               04                 # protocol level 4 (3.1.1)
               02                 # flags: clean session
               00 3c              # keep alive 60 s
               00 03 61 62 63     # client id "abc"`,
  },
  {
    name: 'CONNECT: will (QoS 1, retain), user name and password, clean session 0, keep alive off',
    packet: {
      type: 'connect',
      clientId: 'c1',
      keepalive: 0,
      clean: false,
      username: 'u',
      password: Uint8Array.of(1, 2),
      will: { topic: 'w/t', payload: utf8('bye'), qos: 1, retain: true },
    },
    bytes: hex`10 1f              # CONNECT, remaining length 31
               00 04 4d 51 54 54  # protocol name "MQTT"
               04                 # protocol level 4
               ec                 # flags 1110 1100: user name, password, will retain, will QoS 01, will
               00 00              # keep alive 0: off
               00 02 63 31        # client id "c1"
               00 03 77 2f 74     # will topic "w/t"
               00 03 62 79 65     # will message "bye"
               00 01 75           # user name "u"
               00 02 01 02        # password 01 02`,
  },
  {
    name: 'CONNECT: will (QoS 2, no retain, empty message), no user name or password',
    packet: {
      type: 'connect',
      clientId: 'dev',
      keepalive: 30,
      clean: true,
      will: { topic: 'lwt', payload: new Uint8Array(0), qos: 2, retain: false },
    },
    bytes: hex`10 16              # CONNECT, remaining length 22
               00 04 4d 51 54 54  # protocol name "MQTT"
               04                 # protocol level 4
               16                 # flags 0001 0110: will QoS 10, will, clean session
               00 1e              # keep alive 30 s
               00 03 64 65 76     # client id "dev"
               00 03 6c 77 74     # will topic "lwt"
               00 00              # will message: empty`,
  },
  {
    name: 'CONNECT: user name without password, zero-length client id with clean session [MQTT-3.1.3-7]',
    packet: { type: 'connect', clientId: '', keepalive: 60, clean: true, username: 'user' },
    bytes: hex`10 12              # CONNECT, remaining length 18
               00 04 4d 51 54 54  # protocol name "MQTT"
               04                 # protocol level 4
               82                 # flags 1000 0010: user name, clean session
               00 3c              # keep alive 60 s
               00 00              # client id "" (server assigns one)
               00 04 75 73 65 72  # user name "user"`,
  },
  {
    name: 'CONNECT: the platform page worked example (hmacsha1, securemode 3, keep alive 300)',
    packet: {
      type: 'connect',
      clientId: PLATFORM_EXAMPLE.clientId,
      keepalive: 300,
      clean: true,
      username: PLATFORM_EXAMPLE.username,
      password: utf8(PLATFORM_EXAMPLE.password),
    },
    bytes: hex`10 76                                             # CONNECT, remaining length 118
               00 04 4d 51 54 54                                 # protocol name "MQTT"
               04                                                # protocol level 4
               c2                                                # flags 1100 0010: user name, password, clean session
               01 2c                                             # keep alive 300 s
               00 35                                             # client id, 53 bytes:
               31 32 33 34 35 7c 73 65 63 75 72 65 6d 6f 64 65   #   "12345|securemode"
               3d 33 2c 73 69 67 6e 6d 65 74 68 6f 64 3d 68 6d   #   "=3,signmethod=hm"
               61 63 73 68 61 31 2c 74 69 6d 65 73 74 61 6d 70   #   "acsha1,timestamp"
               3d 37 38 39 7c                                    #   "=789|"
               00 09 64 65 76 69 63 65 26 70 6b                  # user name "device&pk"
               00 28                                             # password, 40 bytes:
               46 41 46 44 38 32 41 33 44 36 30 32 42 33 37 46   #   "FAFD82A3D602B37F"
               42 30 46 41 38 42 37 38 39 32 46 32 34 41 34 37   #   "B0FA8B7892F24A47"
               37 46 38 35 31 41 31 34                           #   "7F851A14"`,
  },
  // ---------------------------------------------------------------------------------- CONNACK
  {
    name: 'CONNACK: accepted, session present',
    packet: { type: 'connack', sessionPresent: true, returnCode: 0 },
    bytes: hex`20 02  # CONNACK, remaining length 2
               01     # acknowledge flags: session present
               00     # return code 0: accepted`,
  },
  ...([0, 1, 2, 3, 4, 5] as const).map(
    (returnCode): Vector => ({
      name: `CONNACK: return code ${returnCode}, no session present`,
      packet: { type: 'connack', sessionPresent: false, returnCode },
      bytes: hex`20 02             # CONNACK, remaining length 2
                 00                # acknowledge flags: no session present
                 0${returnCode}    # return code`,
    }),
  ),
  // ---------------------------------------------------------------------------------- PUBLISH
  {
    name: 'PUBLISH: QoS 0',
    packet: { type: 'publish', topic: 'a/b', payload: utf8('hi'), qos: 0, retain: false, dup: false },
    bytes: hex`30 07           # PUBLISH, DUP 0, QoS 0, RETAIN 0; remaining length 7
               00 03 61 2f 62  # topic "a/b" (no packet id at QoS 0 [MQTT-2.3.1-5])
               68 69           # payload "hi"`,
  },
  {
    name: 'PUBLISH: QoS 0, retain',
    packet: { type: 'publish', topic: 'a/b', payload: utf8('hi'), qos: 0, retain: true, dup: false },
    bytes: hex`31 07           # PUBLISH, DUP 0, QoS 0, RETAIN 1; remaining length 7
               00 03 61 2f 62  # topic "a/b"
               68 69           # payload "hi"`,
  },
  {
    name: 'PUBLISH: QoS 0, empty payload',
    packet: { type: 'publish', topic: 'a/b', payload: new Uint8Array(0), qos: 0, retain: false, dup: false },
    bytes: hex`30 05           # PUBLISH, QoS 0; remaining length 5
               00 03 61 2f 62  # topic "a/b"; the payload is empty`,
  },
  {
    name: 'PUBLISH: QoS 1',
    packet: { type: 'publish', topic: 'a/b', payload: utf8('hi'), qos: 1, retain: false, dup: false, packetId: 10 },
    bytes: hex`32 09           # PUBLISH, DUP 0, QoS 1, RETAIN 0; remaining length 9
               00 03 61 2f 62  # topic "a/b"
               00 0a           # packet id 10
               68 69           # payload "hi"`,
  },
  {
    name: 'PUBLISH: QoS 1, DUP and retain',
    packet: { type: 'publish', topic: 'a/b', payload: utf8('hi'), qos: 1, retain: true, dup: true, packetId: 1 },
    bytes: hex`3b 09           # PUBLISH, DUP 1, QoS 1, RETAIN 1; remaining length 9
               00 03 61 2f 62  # topic "a/b"
               00 01           # packet id 1
               68 69           # payload "hi"`,
  },
  {
    name: 'PUBLISH: QoS 1, empty payload',
    packet: { type: 'publish', topic: 'a/b', payload: new Uint8Array(0), qos: 1, retain: false, dup: false, packetId: 5 },
    bytes: hex`32 07           # PUBLISH, QoS 1; remaining length 7
               00 03 61 2f 62  # topic "a/b"
               00 05           # packet id 5; the payload is empty`,
  },
  {
    name: 'PUBLISH: QoS 2, binary payload, packet id 65535',
    packet: {
      type: 'publish',
      topic: 'a/b',
      payload: Uint8Array.of(0x00, 0xff, 0x80),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 65535,
    },
    bytes: hex`34 0a           # PUBLISH, DUP 0, QoS 2, RETAIN 0; remaining length 10
               00 03 61 2f 62  # topic "a/b"
               ff ff           # packet id 65535
               00 ff 80        # payload: bytes, not text`,
  },
  {
    name: 'PUBLISH: QoS 2, DUP',
    packet: { type: 'publish', topic: 'a/b', payload: utf8('hi'), qos: 2, retain: false, dup: true, packetId: 0x1234 },
    bytes: hex`3c 09           # PUBLISH, DUP 1, QoS 2, RETAIN 0; remaining length 9
               00 03 61 2f 62  # topic "a/b"
               12 34           # packet id 0x1234
               68 69           # payload "hi"`,
  },
  {
    name: 'PUBLISH: QoS 2, retain',
    packet: { type: 'publish', topic: 'a/b', payload: utf8('hi'), qos: 2, retain: true, dup: false, packetId: 2 },
    bytes: hex`35 09           # PUBLISH, DUP 0, QoS 2, RETAIN 1; remaining length 9
               00 03 61 2f 62  # topic "a/b"
               00 02           # packet id 2
               68 69           # payload "hi"`,
  },
  {
    name: 'PUBLISH: non-ASCII topic (2-, 3- and 4-byte UTF-8)',
    packet: { type: 'publish', topic: '温度/€/😀', payload: utf8('ok'), qos: 1, retain: false, dup: false, packetId: 2 },
    bytes: hex`32 15           # PUBLISH, QoS 1; remaining length 21
               00 0f           # topic, 15 bytes:
               e6 b8 a9        #   U+6E29 温
               e5 ba a6        #   U+5EA6 度
               2f              #   "/"
               e2 82 ac        #   U+20AC €
               2f              #   "/"
               f0 9f 98 80     #   U+1F600 😀
               00 02           # packet id 2
               6f 6b           # payload "ok"`,
  },
  {
    name: 'PUBLISH: topic starting with U+FEFF, kept as is [MQTT-1.5.3-3]',
    packet: { type: 'publish', topic: '\uFEFFa/b', payload: new Uint8Array(0), qos: 0, retain: false, dup: false },
    bytes: hex`30 08           # PUBLISH, QoS 0; remaining length 8
               00 06           # topic, 6 bytes:
               ef bb bf        #   U+FEFF, not stripped
               61 2f 62        #   "a/b"`,
  },
  {
    name: 'PUBLISH: platform property post, QoS 1, JSON payload',
    packet: {
      type: 'publish',
      topic: '/sys/pk/device/thing/event/property/post',
      payload: utf8('{"id":"1"}'),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 0x0102,
    },
    bytes: hex`32 36                                            # PUBLISH, QoS 1; remaining length 54
               00 28                                            # topic, 40 bytes:
               2f 73 79 73 2f 70 6b 2f 64 65 76 69 63 65 2f 74  #   "/sys/pk/device/t"
               68 69 6e 67 2f 65 76 65 6e 74 2f 70 72 6f 70 65  #   "hing/event/prope"
               72 74 79 2f 70 6f 73 74                          #   "rty/post"
               01 02                                            # packet id 258
               7b 22 69 64 22 3a 22 31 22 7d                    # payload {"id":"1"}`,
  },
  // -------------------------------------------------------------------------- acknowledgements
  {
    name: 'PUBACK',
    packet: { type: 'puback', packetId: 1 },
    bytes: hex`40 02  # PUBACK, remaining length 2
               00 01  # packet id 1`,
  },
  {
    name: 'PUBREC',
    packet: { type: 'pubrec', packetId: 0x1234 },
    bytes: hex`50 02  # PUBREC, remaining length 2
               12 34  # packet id 0x1234`,
  },
  {
    name: 'PUBREL (flags 0010 [MQTT-3.6.1-1])',
    packet: { type: 'pubrel', packetId: 65535 },
    bytes: hex`62 02  # PUBREL, flags 0010; remaining length 2
               ff ff  # packet id 65535`,
  },
  {
    name: 'PUBCOMP',
    packet: { type: 'pubcomp', packetId: 7 },
    bytes: hex`70 02  # PUBCOMP, remaining length 2
               00 07  # packet id 7`,
  },
  // ------------------------------------------------------------------------------ SUBSCRIBE
  {
    name: 'SUBSCRIBE: four filters with + and # (flags 0010 [MQTT-3.8.1-1])',
    packet: {
      type: 'subscribe',
      packetId: 1,
      subscriptions: [
        { topicFilter: 'a/+/c', qos: 0 },
        { topicFilter: 'sport/tennis/#', qos: 2 },
        { topicFilter: '#', qos: 1 },
        { topicFilter: '+', qos: 0 },
      ],
    },
    bytes: hex`82 23                                       # SUBSCRIBE, flags 0010; remaining length 35
               00 01                                       # packet id 1
               00 05 61 2f 2b 2f 63                        # filter "a/+/c"
               00                                          #   requested QoS 0
               00 0e 73 70 6f 72 74 2f 74 65 6e 6e 69 73 2f 23  # filter "sport/tennis/#"
               02                                          #   requested QoS 2
               00 01 23                                    # filter "#"
               01                                          #   requested QoS 1
               00 01 2b                                    # filter "+"
               00                                          #   requested QoS 0`,
  },
  {
    name: 'SUBSCRIBE: one filter "+/+/#"',
    packet: { type: 'subscribe', packetId: 0xbeef, subscriptions: [{ topicFilter: '+/+/#', qos: 1 }] },
    bytes: hex`82 0a                 # SUBSCRIBE, flags 0010; remaining length 10
               be ef                 # packet id 0xBEEF
               00 05 2b 2f 2b 2f 23  # filter "+/+/#"
               01                    #   requested QoS 1`,
  },
  {
    name: 'SUBACK: codes 0, 1, 2 and 0x80',
    packet: { type: 'suback', packetId: 1, returnCodes: [0, 1, 2, 0x80] },
    bytes: hex`90 06        # SUBACK, remaining length 6
               00 01        # packet id 1
               00 01 02 80  # granted QoS 0, 1, 2; failure`,
  },
  {
    name: 'UNSUBSCRIBE: two filters (flags 0010 [MQTT-3.10.1-1])',
    packet: { type: 'unsubscribe', packetId: 2, topicFilters: ['a/+', '#'] },
    bytes: hex`a2 0a            # UNSUBSCRIBE, flags 0010; remaining length 10
               00 02            # packet id 2
               00 03 61 2f 2b   # filter "a/+"
               00 01 23         # filter "#"`,
  },
  {
    name: 'UNSUBACK',
    packet: { type: 'unsuback', packetId: 42 },
    bytes: hex`b0 02  # UNSUBACK, remaining length 2
               00 2a  # packet id 42`,
  },
  // ------------------------------------------------------------------------- header only
  { name: 'PINGREQ', packet: { type: 'pingreq' }, bytes: hex`c0 00  # PINGREQ, remaining length 0` },
  { name: 'PINGRESP', packet: { type: 'pingresp' }, bytes: hex`d0 00  # PINGRESP, remaining length 0` },
  { name: 'DISCONNECT', packet: { type: 'disconnect' }, bytes: hex`e0 00  # DISCONNECT, remaining length 0` },
];

/** The first vector of each packet type. */
export function vectorOf(type: Packet['type']): Vector {
  const vector = VECTORS.find((v) => v.packet.type === type);
  if (vector === undefined) throw new Error(`no vector for ${type}`);
  return vector;
}
