import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HttpResponseError, MAX_HEAD_BYTES, ResponseReader } from '../../src/device/http-response.js';

/** Feeds `pieces` to a fresh reader, then ends the connection. */
function read(pieces: readonly (string | Buffer)[], closed = true) {
  const reader = new ResponseReader();
  const body: Buffer[] = [];
  for (const piece of pieces) reader.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece, 'latin1'), (bytes) => body.push(Buffer.from(bytes)));
  const complete = closed ? reader.end() : reader.done;
  return { reader, head: reader.head, body: Buffer.concat(body).toString('latin1'), complete };
}

function refusal(pieces: readonly string[]): HttpResponseError {
  try {
    read(pieces);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpResponseError);
    return error as HttpResponseError;
  }
  throw new Error('expected the reader to refuse the response');
}

/** Splits `bytes` at the given cut points. */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(bytes.subarray(from, point));
    from = point;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

describe('ResponseReader: framing (RFC 9112 §6)', () => {
  it('a Content-Length body: the head, the body, done at its last byte; what follows is ignored', () => {
    const { head, body, reader } = read(['HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nETag: "a"\r\nVia: x\r\nvia: y\r\n\r\nhelloEXTRA'], false);
    expect(head).toEqual({ status: 206, reason: 'Partial Content', headers: new Map([['content-length', '5'], ['etag', '"a"'], ['via', 'x, y']]) });
    expect(body).toBe('hello');
    expect(reader.done).toBe(true);
    expect(reader.framing).toBe('length');
    expect(reader.contentLength).toBe(5);
  });

  it('a Content-Length body cut short is not complete when the connection ends', () => {
    const { body, complete } = read(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel']);
    expect(body).toBe('hel');
    expect(complete).toBe(false);
  });

  it('a chunked body, with chunk extensions and trailer fields', () => {
    const { body, reader, complete } = read(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\nA \r\n, world!!!\r\n0\r\nX-Sum: 1\r\n\r\n'], false);
    expect(body).toBe('hello, world!!!');
    expect(reader.framing).toBe('chunked');
    expect(complete).toBe(true);
  });

  it('a chunked body without its last chunk is not complete', () => {
    expect(read(['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n']).complete).toBe(false);
  });

  it('no length and no chunking: the body runs to the end of the connection', () => {
    const { body, complete, reader } = read(['HTTP/1.0 200 OK\r\n\r\nall ', 'of it']);
    expect(body).toBe('all of it');
    expect(complete).toBe(true);
    expect(reader.framing).toBe('close');
  });

  it('204 and 304 have no body; Content-Length 0 is done at once', () => {
    expect(read(['HTTP/1.1 204 No Content\r\n\r\n'], false).reader.done).toBe(true);
    expect(read(['HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n'], false).reader.done).toBe(true);
    expect(read(['HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'], false).reader.done).toBe(true);
  });

  it('skips interim 1xx answers and reads the final one', () => {
    const { head, body } = read(['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok']);
    expect(head?.status).toBe(200);
    expect(head?.headers.has('link')).toBe(false);
    expect(body).toBe('ok');
  });

  it('accepts bare LF line ends (RFC 9112 §2.2) and an empty reason', () => {
    const { head, body } = read(['HTTP/1.1 200\ncontent-length: 2\n\nok']);
    expect(head).toMatchObject({ status: 200, reason: '' });
    expect(body).toBe('ok');
  });

  it('a list of one repeated Content-Length counts once (RFC 9110 §8.6)', () => {
    expect(read(['HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok']).body).toBe('ok');
  });

  it('hands body bytes over as views of the pushed chunk, not copies', () => {
    const reader = new ResponseReader();
    reader.push(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\n'), () => {});
    const chunk = Buffer.from('12345678');
    const seen: Buffer[] = [];
    reader.push(chunk, (bytes) => seen.push(bytes));
    expect(seen).toEqual([chunk]);
    expect(seen[0]).toBe(chunk);
  });

  it('any split of the bytes gives the same head and body (length, chunked, close)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom('length', 'chunked', 'close'),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (bodyBytes, framing, chunkSizes, cuts) => {
          const body = Buffer.from(bodyBytes);
          let wire = 'HTTP/1.1 200 OK\r\nETag: "v1"\r\n';
          let encoded: Buffer;
          if (framing === 'length') {
            wire += `Content-Length: ${body.length}\r\n\r\n`;
            encoded = body;
          } else if (framing === 'chunked') {
            wire += 'Transfer-Encoding: chunked\r\n\r\n';
            const parts: Buffer[] = [];
            let offset = 0;
            for (let index = 0; offset < body.length; index += 1) {
              const size = Math.min(chunkSizes[index % chunkSizes.length]!, body.length - offset);
              parts.push(Buffer.from(`${size.toString(16)}\r\n`), body.subarray(offset, offset + size), Buffer.from('\r\n'));
              offset += size;
            }
            parts.push(Buffer.from('0\r\n\r\n'));
            encoded = Buffer.concat(parts);
          } else {
            wire += '\r\n';
            encoded = body;
          }
          const bytes = Buffer.concat([Buffer.from(wire, 'latin1'), encoded]);
          const whole = read([bytes]);
          const pieces = read(split(bytes, cuts));
          expect(pieces.head).toEqual(whole.head);
          expect(pieces.head?.headers.get('etag')).toBe('"v1"');
          expect(pieces.body).toBe(body.toString('latin1'));
          expect(pieces.complete).toBe(true);
        },
      ),
    );
  });

  it('finds the end of the head however the blank line is split, one byte at a time', () => {
    const text = 'HTTP/1.1 200 OK\r\nA: b\r\n\r\nxy';
    const { head, body } = read([...text]);
    expect(head?.headers.get('a')).toBe('b');
    expect(body).toBe('xy');
  });
});

describe('ResponseReader: what it refuses, with HttpResponseError', () => {
  it.each([
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n\r\n', 'status line'],
    ['HTTP/2 framing', 'HTTP/2 200\r\n\r\n', 'status line'],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', 'status line'],
    ['a folded header line', 'HTTP/1.1 200 OK\r\nA: b\r\n  c\r\n\r\n', 'obs-fold'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nnocolon\r\n\r\n', 'malformed header'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nA : b\r\n\r\n', 'malformed header'],
    ['CR inside a value', 'HTTP/1.1 200 OK\r\nETag: "a\r"\r\n\r\n', 'CR or NUL'],
    ['conflicting lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n', 'conflicting'],
    ['a negative length', 'HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n', 'malformed Content-Length'],
    ['a compressed transfer coding', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n', 'Transfer-Encoding'],
    ['a protocol switch', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', '101'],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 'chunk size'],
    ['a chunk longer than its size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n', 'longer than its size'],
    ['a chunk size beyond 2^52', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10000000000000\r\n', 'chunk size'],
    ['a malformed trailer', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n', 'trailer'],
  ])('%s', (_what, text, message) => {
    expect(refusal([text]).message).toContain(message);
  });

  it('a head longer than MAX_HEAD_BYTES, even with no blank line ever', () => {
    const error = refusal(['HTTP/1.1 200 OK\r\n', ...Array.from({ length: 100 }, () => `X-Pad: ${'p'.repeat(1000)}\r\n`)]);
    expect(error.message).toContain(String(MAX_HEAD_BYTES));
  });

  it('an endless chunk-size line', () => {
    expect(refusal(['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', '0'.repeat(5000)]).message).toContain('longer than');
  });

  it('random bytes, and near-misses of a response, throw nothing but HttpResponseError', () => {
    const valid = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n4\r\nabcd\r\n0\r\n\r\n';
    const nearMiss = fc
      .tuple(fc.nat({ max: valid.length }), fc.nat({ max: valid.length }), fc.string({ maxLength: 4 }))
      .map(([from, to, insert]) => valid.slice(0, Math.min(from, to)) + insert + valid.slice(Math.max(from, to)));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')), nearMiss), (text) => {
        try {
          read([text]);
        } catch (error) {
          expect(error).toBeInstanceOf(HttpResponseError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
