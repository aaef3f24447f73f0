import { describe, expect, it } from 'vitest';
import { summarize, traceLine } from '../../src/cli/trace.js';
import { PLAIN } from '../../src/cli/style.js';
import { decode } from '../../src/packet/index.js';
import { PLATFORM_EXAMPLE, VECTORS, vectorOf } from '../packet/vectors.js';
import { hex } from '../support/hex.js';

describe('trace lines', () => {
  it('summarize each packet type in a line, the password as its length', () => {
    const connect = VECTORS.find((v) => v.name.includes('worked example'))!;
    expect(summarize(connect.packet)).toBe(`clientId=${PLATFORM_EXAMPLE.clientId} keepalive=300 clean=1 user=device&pk password=[40 bytes]`);
    expect(summarize(decode(hex`20 02 00 05`))).toBe('session present 0, return code 5 (not authorized)');
    expect(summarize(vectorOf('suback').packet)).toBe('id=1 granted qos 0, granted qos 1, granted qos 2, refused');
    expect(summarize(decode(hex`32 08 00 01 61 00 07 01 02 03`))).toBe('a qos=1 id=7 [3 bytes]');
    expect(summarize(decode(hex`30 06 00 01 61 68 69 21`))).toBe('a qos=0 hi!');
    expect(summarize(vectorOf('pingreq').packet)).toBe('');
    for (const v of VECTORS) expect(() => summarize(v.packet)).not.toThrow();
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
