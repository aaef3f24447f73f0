/*
 * An HTTP/1.1 response, read from bytes as they come (RFC 9112): the status line, the header
 * fields, then the body as Content-Length, chunked transfer coding or "until the connection
 * closes" frames it. Pure: no socket, no timer.
 *
 * Why not `node:https`: for the OTA download its response stream is the slow part. Measured on
 * [::1] against one server, interleaved, a raw TLS socket read this way moved about 1.3 times
 * the bytes per second of `https.get` with its IncomingMessage, and the whole download (disk and
 * digest included) ran about 15 % faster. Body bytes are handed over as views of the bytes pushed
 * in, never copied.
 */

/**
 * What a server sent that is not HTTP/1.1 as this reader takes it.
 *
 * @internal
 */
export class HttpResponseError extends Error {
  override readonly name = 'HttpResponseError';
}

/**
 * The status line and header fields of a response.
 *
 * @internal
 */
export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  /** By lower-case name; a field sent several times is joined with `, ` (RFC 9110 §5.3). */
  readonly headers: ReadonlyMap<string, string>;
}

/**
 * How the body's end is known.
 *
 * @internal
 */
export type BodyFraming = 'none' | 'length' | 'chunked' | 'close';

/**
 * The longest head (status line and fields) accepted.
 *
 * @internal
 */
export const MAX_HEAD_BYTES = 64 * 1024;
/** The longest chunk-size line or trailer field accepted. */
const MAX_LINE_BYTES = 4096;

const LF = 0x0a;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9][0-9]{2})(?: ([^\r\n]*))?$/;

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'close' | 'done';

/**
 * Reads one response to a GET or POST.
 *
 * @example
 * const reader = new ResponseReader();
 * socket.on('data', (chunk) => reader.push(chunk, (bytes) => file.write(bytes)));
 * socket.on('close', () => { if (!reader.end()) throw new Error('cut short'); });
 *
 * @internal
 */
export class ResponseReader {
  #state: State = 'head';
  /** Head bytes so far, until the blank line. */
  #headBytes: Buffer[] = [];
  #headLength = 0;
  /** A chunk-size line or trailer field so far. */
  #line = '';
  /** Body bytes still to come in the current Content-Length body or chunk. */
  #remaining = 0;
  #head: ResponseHead | undefined;
  #framing: BodyFraming | undefined;
  #length: number | undefined;

  /** The final (non-1xx) head, once read. */
  get head(): ResponseHead | undefined {
    return this.#head;
  }

  /** How the body is framed, once the head is read. */
  get framing(): BodyFraming | undefined {
    return this.#framing;
  }

  /** The Content-Length, when the body is framed by one. */
  get contentLength(): number | undefined {
    return this.#length;
  }

  /** Whether the whole response has been read. Bytes pushed after that are ignored. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /**
   * Takes the next bytes off the connection and passes the body bytes among them to `body`, in
   * order, as views of `chunk`. An exception from `body` propagates, and the reader is then not
   * to be used again.
   *
   * @throws HttpResponseError when the bytes are not a response.
   */
  push(chunk: Buffer, body: (bytes: Buffer) => void): void {
    let offset = 0;
    while (offset < chunk.byteLength) {
      switch (this.#state) {
        case 'head':
          offset = this.#readHead(chunk, offset);
          break;
        case 'length':
        case 'chunk-data': {
          const count = Math.min(this.#remaining, chunk.byteLength - offset);
          body(offset === 0 && count === chunk.byteLength ? chunk : chunk.subarray(offset, offset + count));
          offset += count;
          this.#remaining -= count;
          if (this.#remaining === 0) this.#state = this.#state === 'length' ? 'done' : 'chunk-end';
          break;
        }
        case 'close':
          body(offset === 0 ? chunk : chunk.subarray(offset));
          offset = chunk.byteLength;
          break;
        case 'chunk-size':
        case 'chunk-end':
        case 'trailer':
          offset = this.#readLine(chunk, offset);
          break;
        case 'done':
          return;
      }
    }
  }

  /**
   * The connection has ended. Returns whether the response is complete: always for a body that
   * runs to the end of the connection, otherwise only if every framed byte arrived.
   */
  end(): boolean {
    if (this.#state === 'close') this.#state = 'done';
    return this.#state === 'done';
  }

  #readHead(chunk: Buffer, offset: number): number {
    // The head ends at the first empty line: LF, optional CR, LF. Look for it from one byte
    // before this chunk's bytes, so that a CR LF CR LF split across chunks is found.
    let index = chunk.indexOf(LF, offset);
    while (index !== -1) {
      if (this.#endsHead(chunk, offset, index)) {
        const end = index + 1;
        this.#takeHeadBytes(chunk.subarray(offset, end));
        const text = Buffer.concat(this.#headBytes).toString('latin1');
        this.#headBytes = [];
        this.#headLength = 0;
        this.#parseHead(text);
        return end;
      }
      index = chunk.indexOf(LF, index + 1);
    }
    this.#takeHeadBytes(chunk.subarray(offset));
    return chunk.byteLength;
  }

  /** Whether the LF at `index` closes an empty line. */
  #endsHead(chunk: Buffer, offset: number, index: number): boolean {
    const before = (back: number): number | undefined => {
      const at = index - back;
      if (at >= offset) return chunk[at];
      // Look into the head bytes taken earlier.
      let need = offset - at;
      for (let part = this.#headBytes.length - 1; part >= 0; part -= 1) {
        const bytes = this.#headBytes[part]!;
        if (need <= bytes.byteLength) return bytes[bytes.byteLength - need];
        need -= bytes.byteLength;
      }
      return undefined;
    };
    const previous = before(1);
    if (previous === LF) return true;
    return previous === 0x0d && before(2) === LF;
  }

  #takeHeadBytes(bytes: Buffer): void {
    this.#headLength += bytes.byteLength;
    if (this.#headLength > MAX_HEAD_BYTES) throw new HttpResponseError(`the response head is longer than ${MAX_HEAD_BYTES} bytes`);
    if (bytes.byteLength > 0) this.#headBytes.push(Buffer.from(bytes));
  }

  #parseHead(text: string): void {
    const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
    const statusLine = STATUS_LINE.exec(lines[0] ?? '');
    if (statusLine === null) throw new HttpResponseError(`not an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
    const status = Number(statusLine[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      if (line === '') continue;
      readField(line, headers);
    }
    if (status >= 100 && status < 200) {
      // 100 Continue, 103 Early Hints: an interim answer; the final one follows.
      if (status === 101) throw new HttpResponseError('the server switched protocols (101)');
      return;
    }
    this.#head = { status, reason: statusLine[2] ?? '', headers };
    this.#frame(status, headers);
  }

  /** RFC 9112 §6.3, for a response to a GET or POST. */
  #frame(status: number, headers: Map<string, string>): void {
    const transferEncoding = headers.get('transfer-encoding');
    if (status === 204 || status === 304) {
      this.#framing = 'none';
      this.#state = 'done';
    } else if (transferEncoding !== undefined) {
      if (transferEncoding.toLowerCase() !== 'chunked') throw new HttpResponseError(`unsupported Transfer-Encoding ${JSON.stringify(transferEncoding)}`);
      this.#framing = 'chunked';
      this.#state = 'chunk-size';
    } else if (headers.has('content-length')) {
      const length = readContentLength(headers.get('content-length')!);
      this.#framing = 'length';
      this.#length = length;
      this.#remaining = length;
      this.#state = length === 0 ? 'done' : 'length';
    } else {
      this.#framing = 'close';
      this.#state = 'close';
    }
  }

  /** A chunk-size line, the CRLF after a chunk's data, or a trailer field. */
  #readLine(chunk: Buffer, offset: number): number {
    const index = chunk.indexOf(LF, offset);
    const end = index === -1 ? chunk.byteLength : index;
    this.#line += chunk.toString('latin1', offset, end);
    if (this.#line.length > MAX_LINE_BYTES) throw new HttpResponseError(`a chunked-body line is longer than ${MAX_LINE_BYTES} bytes`);
    if (index === -1) return chunk.byteLength;
    const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
    this.#line = '';
    switch (this.#state) {
      case 'chunk-size': {
        // chunk-size [ chunk-ext ]: the extensions mean nothing to this reader.
        const size = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;.*)?$/.exec(line);
        if (size === null) throw new HttpResponseError(`not a chunk size: ${JSON.stringify(line.slice(0, 40))}`);
        this.#remaining = Number.parseInt(size[1]!, 16);
        this.#state = this.#remaining === 0 ? 'trailer' : 'chunk-data';
        break;
      }
      case 'chunk-end':
        if (line !== '') throw new HttpResponseError('a chunk is longer than its size');
        this.#state = 'chunk-size';
        break;
      default:
        if (line === '') this.#state = 'done';
        else if (!TOKEN.test(line.slice(0, Math.max(0, line.indexOf(':'))))) throw new HttpResponseError('a malformed trailer field');
    }
    return index + 1;
  }
}

function readField(line: string, headers: Map<string, string>): void {
  if (line.startsWith(' ') || line.startsWith('\t')) throw new HttpResponseError('a folded header line (obs-fold)');
  const colon = line.indexOf(':');
  const name = colon > 0 ? line.slice(0, colon) : '';
  if (!TOKEN.test(name)) throw new HttpResponseError(`a malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  // RFC 9110 §5.5: CR and NUL in a field value are to be refused, not passed on (an ETag goes back in If-Range).
  if (/[\r\0]/.test(value)) throw new HttpResponseError(`a header field ${JSON.stringify(name)} with CR or NUL in its value`);
  const key = name.toLowerCase();
  const earlier = headers.get(key);
  headers.set(key, earlier === undefined ? value : `${earlier}, ${value}`);
}

/** RFC 9110 §8.6: a list of the same value counts once; different values are an error. */
function readContentLength(text: string): number {
  const values = new Set(text.split(',').map((value) => value.trim()));
  if (values.size !== 1) throw new HttpResponseError(`conflicting Content-Length values ${JSON.stringify(text)}`);
  const [value = ''] = [...values];
  if (!/^[0-9]{1,15}$/.test(value)) throw new HttpResponseError(`a malformed Content-Length ${JSON.stringify(text)}`);
  return Number(value);
}
