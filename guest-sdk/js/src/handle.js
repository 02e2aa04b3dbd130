// The pure part of a plugin run: bytes in, response JSON or one error line out. `run` (in
// run.js) wraps it with stdin, stdout, stderr and the exit status; tests call it directly.

import { ProtocolError, decodeRequest, encodeResponse } from './protocol.js';

/** Largest request read from stdin: a kubelet request is a few KiB at most. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * What a handler gets besides the request: the guest's arguments (the host's `--arg` values)
 * and its environment (only what the host's `--env` grants).
 * @typedef {object} Context
 * @property {string[]} args
 * @property {Record<string, string>} env
 */

/**
 * Decodes `input` strictly, calls `handler(request, context)` (which may be async), and returns
 * the response JSON (no newline). Throws an `Error` whose message is the one line `run` prints.
 * @param {string | Uint8Array} input
 * @param {(request: import('./protocol.js').Request, context: Context) => unknown} handler
 * @param {Context} [context]
 * @returns {Promise<string>}
 */
export async function handle(input, handler, context = { args: [], env: {} }) {
  if (typeof input !== 'string' && input.length > MAX_REQUEST_BYTES) {
    throw new ProtocolError(`request on stdin is larger than ${MAX_REQUEST_BYTES} bytes`);
  }
  const request = decodeRequest(input);
  const resp = await handler(request, context);
  if (!resp || typeof resp !== 'object' || typeof resp.apiVersion !== 'string') {
    throw new ProtocolError('the handler returned no response (build one with response(request))');
  }
  if (resp.apiVersion !== request.apiVersion) {
    throw new ProtocolError(
      `the plugin answered in ${resp.apiVersion} but the request is ${request.apiVersion}; the kubelet would discard it`,
    );
  }
  return encodeResponse(resp);
}

/** The one line an error becomes: its message, with line breaks flattened. */
export function errorLine(err) {
  const message = err instanceof Error ? err.message : String(err);
  return `error: ${message.replace(/[\r\n]+/g, ' ')}`;
}
