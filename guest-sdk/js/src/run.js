// The plugin's entry point inside the host: reads the request from `wasi:cli/stdin`, calls the
// handler with the guest's arguments and granted environment, writes the response to stdout,
// and turns any exception into one stderr line and exit status 1. Only a component can import
// this module (it imports WASI interfaces); test handlers with `handle` instead.

import { getArguments, getEnvironment } from 'wasi:cli/environment@0.2.12';
import { exit } from 'wasi:cli/exit@0.2.12';
import { getStderr } from 'wasi:cli/stderr@0.2.12';
import { getStdin } from 'wasi:cli/stdin@0.2.12';
import { getStdout } from 'wasi:cli/stdout@0.2.12';

import { MAX_REQUEST_BYTES, errorLine, handle } from './handle.js';

/** `blocking-write-and-flush` takes at most 4096 bytes a call. */
const WRITE_CHUNK = 4096;

/**
 * The `wasi:cli/run` export of a plugin: `export const run = sdk.run(handler)`.
 * @param {(request: import('./protocol.js').Request, context: import('./handle.js').Context) => unknown} handler
 * @returns {{ run: () => Promise<void> }}
 */
export function run(handler) {
  return {
    async run() {
      let line;
      try {
        const input = readStdin();
        const context = { args: getArguments().slice(1), env: Object.fromEntries(getEnvironment()) };
        const json = await handle(input, handler, context);
        write(getStdout(), `${json}\n`);
        return;
      } catch (err) {
        line = errorLine(err);
      }
      try {
        write(getStderr(), `${line}\n`);
      } finally {
        exit({ tag: 'err', val: undefined });
      }
    },
  };
}

function readStdin() {
  const stdin = getStdin();
  const chunks = [];
  let total = 0;
  for (;;) {
    let chunk;
    try {
      chunk = stdin.blockingRead(BigInt(64 * 1024));
    } catch (err) {
      if (err?.payload?.tag === 'closed') break;
      throw new Error('reading the request from stdin failed');
    }
    total += chunk.length;
    if (total > MAX_REQUEST_BYTES) throw new Error(`request on stdin is larger than ${MAX_REQUEST_BYTES} bytes`);
    chunks.push(chunk);
  }
  const input = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    input.set(chunk, offset);
    offset += chunk.length;
  }
  return input;
}

function write(stream, text) {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += WRITE_CHUNK) {
    stream.blockingWriteAndFlush(bytes.subarray(i, i + WRITE_CHUNK));
  }
}
