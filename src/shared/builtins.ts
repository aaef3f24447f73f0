/**
 * Node's heavier built-in modules, loaded on first use rather than at import.
 *
 * `node:tls`, `node:crypto`, `node:net` and `node:dns` together cost more to load than all of
 * this library's own code (about 17 ms of a bare start on the reference machine), and a
 * program that imports the package may never connect, sign or serve in that process. Static `import type` keeps the types; these functions fetch the modules when a
 * connection, a signature or a server is actually made.
 */
import { createRequire } from 'node:module';

type Tls = typeof import('node:tls');
type Crypto = typeof import('node:crypto');
type Net = typeof import('node:net');
type Dns = typeof import('node:dns');
type Fs = typeof import('node:fs');
type Util = typeof import('node:util');

const load = createRequire(import.meta.url);
let tls: Tls | undefined;
let crypto: Crypto | undefined;
let net: Net | undefined;
let dns: Dns | undefined;
let fs: Fs | undefined;
let util: Util | undefined;

export const nodeTls = (): Tls => (tls ??= load('node:tls') as Tls);
export const nodeCrypto = (): Crypto => (crypto ??= load('node:crypto') as Crypto);
export const nodeNet = (): Net => (net ??= load('node:net') as Net);
export const nodeDns = (): Dns => (dns ??= load('node:dns') as Dns);
// `node:fs` and `node:util` are cheap to require, but an ESM import of them builds a facade over
// every export, which runs their lazy getters (fs.promises and the streams behind it).
export const nodeFs = (): Fs => (fs ??= load('node:fs') as Fs);
export const nodeUtil = (): Util => (util ??= load('node:util') as Util);

/** A `util.debuglog` section function. */
export interface DebugLog {
  (format: string, ...args: unknown[]): void;
  readonly enabled: boolean;
}
const silent: DebugLog = Object.assign(() => {}, { enabled: false });

/**
 * The `NODE_DEBUG=aliot` trace, through Node's own `util.debuglog`. It reads NODE_DEBUG once, at
 * startup; when NODE_DEBUG is not set at all there is nothing it could print, so `node:util` is
 * not even loaded.
 */
export const debug: DebugLog = process.env['NODE_DEBUG'] ? (nodeUtil().debuglog('aliot') as DebugLog) : silent;

/** `net.isIP`, loading `node:net` when first asked. */
export function isIP(input: string): number {
  return nodeNet().isIP(input);
}
