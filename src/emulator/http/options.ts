/**
 * The HTTPS server's share of the emulator's options: its port, and the certificate it serves
 * with, which is the MQTT listener's (the loopback test certificate unless `tls` gives another;
 * also over plain-TCP MQTT, since OTA URLs must be https).
 */
import { ConfigurationError } from '../../shared/errors.js';
import { requireIntegerIn } from '../../shared/validate.js';
import { readLoopbackFile } from '../options.js';
import type { EmulatorOptions } from '../types.js';

export interface ResolvedHttpsOptions {
  /** `undefined`: started on a free port when first needed (the first OTA job). */
  readonly port: number | undefined;
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string;
}

/** Checks `httpPort`; reads the certificate (the emulator's options were checked already). */
export async function resolveHttpsOptions(options: EmulatorOptions): Promise<ResolvedHttpsOptions> {
  const port = options.httpPort === undefined ? undefined : requireIntegerIn('httpPort', options.httpPort, 0, 65_535, 'use 0 for a free port, or 1..65535');
  const tls = options.tls;
  if (typeof tls === 'object' && tls !== null) {
    const ca = tls.ca ?? tls.cert;
    if (ca === undefined) throw new ConfigurationError('tls.ca', 'expected PEM text');
    return { port, cert: tls.cert, key: tls.key, ca: ca.toString() };
  }
  const [cert, key, ca] = await Promise.all(['server.pem', 'server.key', 'ca.pem'].map(readLoopbackFile));
  return { port, cert: cert!, key: key!, ca: ca! };
}
