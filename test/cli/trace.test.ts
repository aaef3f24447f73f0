import { describe, expect, it } from 'vitest';
import { traceLine } from '../../src/cli/trace.js';
import { PLAIN } from '../../src/cli/style.js';
import { decode, describePacket } from '../../src/packet/index.js';
import { PLATFORM_EXAMPLE, VECTORS, vectorOf } from '../packet/vectors.js';
import { hex } from '../support/hex.js';

describe('trace lines', () => {
  it("say what the packet holds as the codec's describePacket does, the type name in a column of its own", () => {
    for (const v of VECTORS) {
      const [head] = traceLine('x', true, v.packet, v.bytes, PLAIN).split('\n');
      const name = v.packet.type.toUpperCase();
      const summary = describePacket(v.packet).slice(name.length).trimStart();
      expect(head).toBe(`  x  ${name.padEnd(11)} ${summary}`.trimEnd());
    }
    const connect = VECTORS.find((v) => v.name.includes('worked example'))!;
    expect(traceLine('x', true, connect.packet, connect.bytes, PLAIN)).toContain(
      `CONNECT     clientId=${PLATFORM_EXAMPLE.clientId} keepalive=300 clean=1 username=device&pk password=[40 bytes]`,
    );
    expect(traceLine('x', false, decode(hex`20 02 00 05`), hex`20 02 00 05`, PLAIN)).toContain('CONNACK     session present 0, return code 5 (not authorized)');
  });

  it('never carry what a terminal would act on, whatever the peer sent', () => {
    const frame = hex`30 08 00 04 1b 5b 32 4a 1b 5d`; // topic ESC [ 2 J, payload ESC ]
    const line = traceLine('x', false, decode(frame), frame, PLAIN);
    expect(line).not.toContain('\u001b');
    expect(line).toContain('"\\u001b[2J"');
  });

  it('show the first bytes of the frame with the password masked', () => {
    const connect = VECTORS.find((v) => v.name.includes('worked example'))!;
    const line = traceLine('device -> platform', true, connect.packet, connect.bytes, PLAIN);
    expect(line).toMatch(/^ {2}device -> platform {2}CONNECT {5}clientId=/);
    expect(line).toContain(`… (${connect.bytes.length} bytes)`);
    expect(line).not.toContain(PLATFORM_EXAMPLE.password);
    const short = traceLine('x', true, decode(hex`c0 00`), hex`c0 00`, PLAIN);
    expect(short).toBe('  x  PINGREQ\n     c0 00\n');
  });
});
