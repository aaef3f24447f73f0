/**
 * Loaded with `--import` into a CLI process under test: every connection the process opens and
 * every name it looks up is written to the file named by ALIOT_TEST_NET_LOG (one JSON line each),
 * and any that would leave the loopback is refused, so "needs no internet" is checked rather than
 * assumed. TCP, TLS and HTTPS all connect through `net.Socket.prototype.connect`.
 */
import { appendFileSync } from 'node:fs';
import dns from 'node:dns';
import net from 'node:net';

const logFile = process.env.ALIOT_TEST_NET_LOG;
if (logFile === undefined) throw new Error('loopback-only.mjs: set ALIOT_TEST_NET_LOG to the file that records connections');

const isLoopback = (host) => host === 'localhost' || host === '::1' || host === '[::1]' || /^(::ffff:)?127\./.test(host);

function record(entry) {
  appendFileSync(logFile, `${JSON.stringify(entry)}\n`);
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  // net.connect passes its normalized arguments as one array; a caller may pass (options), (port, host) or (path).
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = typeof first === 'object' && first !== null ? first : typeof first === 'number' ? { port: first, host: args[1] } : { path: first };
  if (options.path === undefined) {
    const host = typeof options.host === 'string' ? options.host : 'localhost';
    record({ kind: 'connect', host, port: options.port });
    if (!isLoopback(host)) throw new Error(`loopback-only.mjs: refused a connection to ${host}:${options.port}`);
  }
  return connect.apply(this, args);
};

const lookup = dns.lookup;
dns.lookup = function guardedLookup(hostname, ...rest) {
  record({ kind: 'lookup', host: hostname });
  if (!isLoopback(hostname)) throw new Error(`loopback-only.mjs: refused to look up ${hostname}`);
  return lookup.call(this, hostname, ...rest);
};
