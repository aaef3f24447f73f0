/**
 * Node's heavier built-in modules, loaded on first use rather than at import.
 *
 * `node:tls`, `node:crypto`, `node:net` and `node:dns` together cost more to load than all of
 * this library's own code (about 17 ms of a bare start on the reference machine, see the
 * README), and a program that imports the package may never connect, sign or serve in that
 * process. Static `import type` keeps the types; these functions fetch the modules when a
 * connection, a signature or a server is actually made.
 */
import { createRequire } from 'node:module';

type Tls = typeof import('node:tls');
type Crypto = typeof import('node:crypto');
type Net = typeof import('node:net');
type Dns = typeof import('node:dns');

const load = createRequire(import.meta.url);
let tls: Tls | undefined;
let crypto: Crypto | undefined;
let net: Net | undefined;
let dns: Dns | undefined;

export const nodeTls = (): Tls => (tls ??= load('node:tls') as Tls);
export const nodeCrypto = (): Crypto => (crypto ??= load('node:crypto') as Crypto);
export const nodeNet = (): Net => (net ??= load('node:net') as Net);
export const nodeDns = (): Dns => (dns ??= load('node:dns') as Dns);

/** `net.isIP`, loading `node:net` when first asked. */
export function isIP(input: string): number {
  return nodeNet().isIP(input);
}
