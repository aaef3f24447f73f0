/**
 * securemode=-2: how the platform's page on MQTT-based dynamic registration has new public and
 * Enterprise instances announce TLS on the registration connection and on the token connection
 * that follows it (`authType=connwl`). The reader takes it as TLS and keeps the text as sent.
 */
import { describe, expect, it } from 'vitest';
import { parseClientId, signCredentials, verifyCredentials } from '../../src/sign/index.js';

describe('parseClientId and securemode=-2', () => {
  it('reads the token connection of the C SDK as TLS, keeping -2 and every field', () => {
    const parsed = parseClientId('Xk2dQ9a|authType=connwl,securemode=-2,_ss=1,ext=3,_v=sdk-c-4.1.0|');
    expect(parsed).toEqual({
      ok: true,
      clientId: 'Xk2dQ9a',
      secureMode: 2,
      signMethod: 'hmacmd5',
      timestamp: undefined,
      fields: { authType: 'connwl', securemode: '-2', _ss: '1', ext: '3', _v: 'sdk-c-4.1.0' },
    });
  });

  it('reads a registration clientId on a new instance', () => {
    const parsed = parseClientId('meter-1.a1Pk|random=123,authType=regnwl,securemode=-2,signmethod=hmacsha256,instanceId=iot-06z00|');
    expect(parsed.ok && parsed.secureMode).toBe(2);
    expect(parsed.ok && parsed.fields['securemode']).toBe('-2');
  });

  it('still refuses other values, naming -2 among the ones it takes', () => {
    for (const value of ['-3', '+2', '02', '-', '2 ', '−2']) {
      const parsed = parseClientId(`abc|securemode=${value},signmethod=hmacsha1|`);
      expect(parsed.ok, value).toBe(false);
      if (!parsed.ok) {
        expect(parsed.reason).toBe('malformed-extension');
        expect(parsed.message).toContain('-2 (TLS');
      }
    }
  });

  it('announces TLS to verifyCredentials: accepted over TLS, a mismatch over TCP', () => {
    const credentials = signCredentials({ productKey: 'pk', deviceName: 'dev', deviceSecret: 'secret', timestamp: 789, secureMode: 2 });
    const minusTwo = { ...credentials, clientId: credentials.clientId.replace('securemode=2', 'securemode=-2') };
    const lookup = (): string => 'secret';
    expect(verifyCredentials(minusTwo, lookup, { transport: 'tls' })).toMatchObject({ ok: true, secureMode: 2 });
    expect(verifyCredentials(minusTwo, lookup, { transport: 'tcp' })).toMatchObject({ ok: false, reason: 'securemode-mismatch' });
  });
});
