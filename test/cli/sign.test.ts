import { describe, expect, it } from 'vitest';
import { signCredentials } from '../../src/sign/index.js';
import { run } from './helpers.js';

const EXAMPLE = ['--client-id', '12345', '--device-name', 'device', '--product-key', 'pk', '--device-secret', 'secret', '--timestamp', '789', '--sign-method', 'hmacsha1', '--transport', 'tcp'];

describe('aliot sign', () => {
  it("reproduces the platform page's worked example exactly", async () => {
    const result = await run(['sign', ...EXAMPLE]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      'clientId  12345|securemode=3,signmethod=hmacsha1,timestamp=789|\n' +
        'username  device&pk\n' +
        'password  FAFD82A3D602B37FB0FA8B7892F24A477F851A14\n',
    );
  });

  it('prints the three values as JSON with --json', async () => {
    const result = await run(['sign', ...EXAMPLE, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=789|',
      username: 'device&pk',
      password: 'FAFD82A3D602B37FB0FA8B7892F24A477F851A14',
    });
  });

  it('reads the secret from ALIOT_DEVICE_SECRET and never prints it', async () => {
    const secret = 'env-only-secret-7f3a';
    const result = await run(['sign', '--product-key', 'a1B2c3', '--device-name', 'lamp', '--timestamp', '1', '--json'], {
      env: { ALIOT_DEVICE_SECRET: secret },
    });
    expect(result.code).toBe(0);
    const expected = signCredentials({ productKey: 'a1B2c3', deviceName: 'lamp', deviceSecret: secret, timestamp: 1 });
    expect(JSON.parse(result.stdout)).toEqual({ clientId: expected.clientId, username: expected.username, password: expected.password });
    expect(result.stdout + result.stderr).not.toContain(secret);
  });

  it('prefers --device-secret over the environment', async () => {
    const result = await run(['sign', ...EXAMPLE, '--json'], { env: { ALIOT_DEVICE_SECRET: 'other' } });
    expect(JSON.parse(result.stdout).password).toBe('FAFD82A3D602B37FB0FA8B7892F24A477F851A14');
  });

  it('leaves the timestamp out of the clientId and the signature with --no-timestamp', async () => {
    const result = await run(['sign', '--product-key', 'pk', '--device-name', 'dn', '--device-secret', 's', '--no-timestamp', '--json']);
    const expected = signCredentials({ productKey: 'pk', deviceName: 'dn', deviceSecret: 's', timestamp: null });
    expect(JSON.parse(result.stdout)).toEqual({ clientId: expected.clientId, username: expected.username, password: expected.password });
    expect(expected.clientId).toBe('pk.dn|securemode=2,signmethod=hmacsha256|');
  });

  it('signs with hmacsha256 over TLS (securemode=2) by default', async () => {
    const result = await run(['sign', '--product-key', 'pk', '--device-name', 'dn', '--device-secret', 's', '--timestamp', '5', '--json']);
    expect(JSON.parse(result.stdout).clientId).toBe('pk.dn|securemode=2,signmethod=hmacsha256,timestamp=5|');
  });

  it.each([
    [['--product-key', 'pk', '--device-name', 'dn'], 'the device secret is missing'],
    [['--device-name', 'dn', '--device-secret', 's'], '--product-key is required'],
    [['--product-key', 'pk', '--device-secret', 's'], '--device-name is required'],
    [['--product-key', 'pk', '--device-name', 'dn', '--device-secret', 's', '--timestamp', '1', '--no-timestamp'], 'contradict'],
    [['--product-key', 'pk', '--device-name', 'dn', '--device-secret', 's', '--timestamp', 'yesterday'], '--timestamp must be'],
    [['--product-key', 'pk', '--device-name', 'dn', '--device-secret', 's', '--sign-method', 'sha1'], '--sign-method must be one of'],
    [['--product-key', 'pk', '--device-name', 'dn', '--device-secret', 's', '--transport', 'udp'], '--transport must be one of'],
    [['--product-key', 'pk', '--device-name', 'dn', '--device-secret', 's', '--client-id', 'a|b'], 'clientId'],
    [['--product-key', 'p&k', '--device-name', 'dn', '--device-secret', 's'], 'productKey'],
    [['--product-key', 'pk', '--device-name', 'dn', '--device-secret', 's', '--timestmp', '1'], 'did you mean --timestamp'],
    [['--product-key', 'pk', '--device-name', 'dn', '--device-secret', 's', 'stray'], 'takes no arguments'],
  ])('is a usage error (exit 1) for %j', async (argv, text) => {
    const result = await run(['sign', ...argv]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(text);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('never quotes the secret in an error, even when it is the problem', async () => {
    const secret = 'hunter2-do-not-print';
    for (const argv of [
      ['--device-secret', secret, '--device-secret', secret, '--product-key', 'pk', '--device-name', 'dn'],
      ['--product-key', 'pk', '--device-name', 'dn', secret],
      [`--device-secret=${secret}`, '--product-key', 'pk', '--device-name', 'd&n'],
    ]) {
      const result = await run(['sign', ...argv]);
      expect(result.code).toBe(1);
      expect(result.stderr).not.toContain(secret);
    }
  });

  it('has --help and -h, exit 0, listing every option', async () => {
    for (const flag of ['--help', '-h']) {
      const result = await run(['sign', flag]);
      expect(result.code).toBe(0);
      for (const option of ['--product-key', '--device-name', '--device-secret', '--client-id', '--timestamp', '--no-timestamp', '--sign-method', '--transport', '--json', 'ALIOT_DEVICE_SECRET']) {
        expect(result.stdout).toContain(option);
      }
    }
  });
});

describe('a secret pasted into the wrong flag', () => {
  const secret = 'Pasted-Device-Secret-3c9d1e';
  it.each([
    ['--sign-method', ['--sign-method', secret]],
    ['--transport', ['--transport', secret]],
    ['--timestamp', ['--timestamp', secret]],
  ])('%s: refused without printing the value back', async (_flag, flag) => {
    const result = await run(['sign', '--product-key', 'pk', '--device-name', 'd', '--device-secret', 's', ...flag]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toBe('');
    expect(result.stderr + result.stdout).not.toContain(secret);
  });
});
