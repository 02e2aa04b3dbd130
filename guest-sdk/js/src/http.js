// A small HTTP client over `fetch`. Inside the host, componentize-js's `fetch` speaks
// `wasi:http/outgoing-handler` and the host checks every request against the operator's
// `--allow-http` list; under Node (unit tests) it is Node's own `fetch`. Bodies are strings or
// bytes only, so every request is framed with `Content-Length` (a stream would be sent chunked,
// which many token endpoints refuse). Redirects are not followed: a 3xx is returned as is.

/** Largest response body read: the host's own default cap (`--max-http-response`). */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** A request that failed, or a status that was not wanted. The message never quotes a body. */
export class HttpError extends Error {
  /**
   * @param {string} message
   * @param {number} [status] the status, when the server answered
   */
  constructor(message, status) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

/** A response, read whole. */
export class HttpResponse {
  constructor(status, headers, body) {
    /** The status code. */
    this.status = status;
    /** Header fields, names lowercased (a repeated field's values joined with `, `). */
    this.headers = headers;
    /** The body. */
    this.body = body;
  }

  /** The body as text (invalid UTF-8 replaced). */
  text() {
    return new TextDecoder().decode(this.body);
  }

  /** The body as JSON; the error never quotes the body. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch {
      throw new HttpError('the response body is not JSON', this.status);
    }
  }

  /** `this` if the status is 2xx, else throws an {@link HttpError} naming the status. */
  errorForStatus() {
    if (this.status >= 200 && this.status < 300) return this;
    throw new HttpError(`server answered with status ${this.status}`, this.status);
  }
}

/**
 * Sends one request and reads the whole response.
 * @param {string} url an absolute `http://` or `https://` URL
 * @param {{method?: string, headers?: Record<string, string>, body?: string | Uint8Array}} [options]
 * @returns {Promise<HttpResponse>}
 */
export async function request(url, { method = 'GET', headers = {}, body } = {}) {
  if (!/^https?:\/\/[^/?#@]+/i.test(url)) throw new HttpError(`invalid URL: not an absolute http(s) URL`);
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new HttpError('the body must be a string or a Uint8Array (a stream would be sent chunked)');
  }
  let reply;
  try {
    reply = await fetch(url, { method, headers, body, redirect: 'manual' });
  } catch (err) {
    // Says what failed, never where: the caller names the URL (see withoutQuery), as the Rust
    // SDK's errors do.
    throw new HttpError(err instanceof Error ? err.message : String(err));
  }
  let bytes;
  try {
    bytes = new Uint8Array(await reply.arrayBuffer());
  } catch (err) {
    throw new HttpError(`reading the response failed: ${err instanceof Error ? err.message : String(err)}`, reply.status);
  }
  if (bytes.length > MAX_RESPONSE_BYTES) throw new HttpError(`the response is larger than ${MAX_RESPONSE_BYTES} bytes`, reply.status);
  const fields = {};
  reply.headers.forEach((value, name) => {
    fields[name.toLowerCase()] = value;
  });
  return new HttpResponse(reply.status, fields, bytes);
}

/**
 * `POST`s `fields` as `application/x-www-form-urlencoded` (see {@link formEncode}).
 * @param {string} url
 * @param {Array<[string, string]>} fields in order
 * @param {Record<string, string>} [headers] more header fields
 */
export function postForm(url, fields, headers = {}) {
  return request(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: formEncode(fields),
  });
}

/**
 * `application/x-www-form-urlencoded`: RFC 3986's unreserved characters as they are, every other
 * UTF-8 byte as `%XX` (the same bytes the Rust and Python SDK plugins send).
 * @param {Array<[string, string]>} fields
 */
export function formEncode(fields) {
  const encode = (text) =>
    encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return fields.map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&');
}

/** `url` without its query or fragment (which may carry identifiers), for messages. */
export function withoutQuery(url) {
  return url.split(/[?#]/, 1)[0];
}
