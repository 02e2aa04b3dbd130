// Write a kubelet image credential provider plugin in JavaScript for wasm-credential-provider.
// Everything here runs under Node too (for unit tests); the entry point that talks to WASI is
// `credential-provider-sdk/run`.

export {
  API_VERSIONS,
  CacheKeyType,
  MAX_IMAGE_LENGTH,
  ProtocolError,
  ResponseBuilder,
  decodeRequest,
  encodeResponse,
  goDuration,
  registryOf,
  response,
} from './protocol.js';
export { MAX_REQUEST_BYTES, errorLine, handle } from './handle.js';
export { HttpError, HttpResponse, MAX_RESPONSE_BYTES, formEncode, postForm, request, withoutQuery } from './http.js';
export { JsonError, parseStrict } from './strict-json.js';
