import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { aliyunRootCa, pemCertificates } from '../../src/aliyun/index.js';
import { readPemBundle } from '../../src/aliyun/ca.js';

describe('aliyunRootCa', () => {
  it('is the bundle shipped in certs/', () => {
    const shipped = readFileSync(new URL('../../certs/aliyun-iot-root-ca.pem', import.meta.url), 'utf8');
    expect(aliyunRootCa()).toBe(shipped);
  });

  it('is read once and cached', () => {
    expect(aliyunRootCa()).toBe(aliyunRootCa());
  });

  it('parses into the five roots, GlobalSign Root CA R1 and Aliyun IoT Root CA among them', () => {
    const certificates = pemCertificates(aliyunRootCa()).map((pem) => new X509Certificate(pem));
    expect(certificates).toHaveLength(5);
    const byName = new Map(certificates.map((certificate) => [/CN=([^\n]+)/.exec(certificate.subject)?.[1], certificate]));
    // GlobalSign Root CA R1: the subject has no "R1"; it is the one with OU=Root CA, to 2028-01-28.
    const r1 = byName.get('GlobalSign Root CA');
    expect(r1?.subject).toContain('OU=Root CA');
    expect(new Date(r1?.validTo ?? 0).toISOString()).toBe('2028-01-28T12:00:00.000Z');
    const aliyun = byName.get('Aliyun IoT Root CA');
    expect(aliyun?.subject).toContain('O=Aliyun IoT');
    expect(new Date(aliyun?.validTo ?? 0).getUTCFullYear()).toBe(2053);
    for (const certificate of certificates) {
      expect(certificate.ca).toBe(true);
      expect(certificate.checkIssued(certificate)).toBe(true);
    }
  });

  it('explains a missing bundle', () => {
    const missing = new URL('./no-such-bundle.pem', import.meta.url);
    expect(() => readPemBundle(missing)).toThrow(/reinstall aliot-mqtt or pass a ca option/);
  });
});

describe('pemCertificates', () => {
  it('finds nothing in text without certificates', () => {
    expect(pemCertificates('# comment only\n')).toEqual([]);
  });
});
