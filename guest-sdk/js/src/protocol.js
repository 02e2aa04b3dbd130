// The kubelet's credential provider protocol: the request a plugin reads on stdin and the
// response it writes on stdout, with the rules the Rust SDK (and the kubelet) apply: a request
// is decoded strictly (unknown, duplicate or mistyped fields refused; `serviceAccountToken` and
// `serviceAccountAnnotations` only in v1), and a response answers in the request's apiVersion.

import { JsonError, parseStrict, safeName } from './strict-json.js';

/** The API versions of the protocol, oldest first. */
export const API_VERSIONS = Object.freeze([
  'credentialprovider.kubelet.k8s.io/v1alpha1',
  'credentialprovider.kubelet.k8s.io/v1beta1',
  'credentialprovider.kubelet.k8s.io/v1',
]);

/** The version that carries service-account tokens (KEP-4412). */
const V1 = 'credentialprovider.kubelet.k8s.io/v1';

/** How the kubelet keys its cache of an answer. */
export const CacheKeyType = Object.freeze({ Image: 'Image', Registry: 'Registry', Global: 'Global' });

/** The longest image name accepted, as the host's decoder. */
export const MAX_IMAGE_LENGTH = 4096;

const REQUEST_KIND = 'CredentialProviderRequest';
const RESPONSE_KIND = 'CredentialProviderResponse';

/** A request or response that breaks the protocol. The message never quotes a value. */
export class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/**
 * A decoded request.
 * @typedef {object} Request
 * @property {string} apiVersion one of {@link API_VERSIONS}
 * @property {string} image the image being pulled
 * @property {string | undefined} serviceAccountToken the pod's token (v1 token mode), if any
 * @property {Record<string, string>} serviceAccountAnnotations the service account's annotations
 */

/**
 * Decodes the kubelet's request strictly.
 * @param {string | Uint8Array} input the bytes or text on stdin
 * @returns {Request}
 * @throws {ProtocolError}
 */
export function decodeRequest(input) {
  const text = typeof input === 'string' ? input : decodeUtf8(input);
  let value;
  try {
    value = parseStrict(text);
  } catch (err) {
    if (err instanceof JsonError) throw new ProtocolError(`invalid request: ${err.message}`);
    throw err;
  }
  if (!isObject(value)) throw new ProtocolError('invalid request: not a JSON object');
  const apiVersion = optionalString(value, 'apiVersion');
  if (apiVersion === undefined) throw new ProtocolError('invalid request: apiVersion is missing');
  if (!API_VERSIONS.includes(apiVersion)) {
    throw new ProtocolError('invalid request: apiVersion is not a credentialprovider.kubelet.k8s.io version this SDK speaks');
  }
  const allowed = apiVersion === V1
    ? ['kind', 'apiVersion', 'image', 'serviceAccountToken', 'serviceAccountAnnotations']
    : ['kind', 'apiVersion', 'image'];
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new ProtocolError(`invalid request: unknown field ${safeName(key)}`);
  }
  if ((optionalString(value, 'kind') ?? '') !== REQUEST_KIND) {
    throw new ProtocolError(`invalid request: kind is not ${REQUEST_KIND}`);
  }
  const image = optionalString(value, 'image') ?? '';
  if (image === '') throw new ProtocolError('invalid request: image is missing');
  if (image.length > MAX_IMAGE_LENGTH || /[\s\u0000-\u001f\u007f-\u009f]/.test(image)) {
    throw new ProtocolError('invalid request: image is too long or holds whitespace or control characters');
  }
  const token = optionalString(value, 'serviceAccountToken');
  const annotations = {};
  const rawAnnotations = value.serviceAccountAnnotations;
  if (rawAnnotations !== undefined && rawAnnotations !== null) {
    if (!isObject(rawAnnotations)) throw new ProtocolError('invalid request: serviceAccountAnnotations is not an object');
    for (const key of Object.keys(rawAnnotations).sort()) {
      const annotation = rawAnnotations[key];
      if (annotation !== null && typeof annotation !== 'string') {
        throw new ProtocolError('invalid request: a serviceAccountAnnotations value is not a string');
      }
      annotations[key] = annotation ?? '';
    }
  }
  return Object.freeze({
    apiVersion,
    image,
    serviceAccountToken: token === undefined || token === '' ? undefined : token,
    serviceAccountAnnotations: Object.freeze(annotations),
  });
}

/**
 * The registry part of an image: everything before the first `/` (the kubelet's key for
 * `cacheKeyType: Registry`).
 * @param {string} image
 */
export function registryOf(image) {
  const slash = image.indexOf('/');
  return slash < 0 ? image : image.slice(0, slash);
}

/**
 * A whole number of seconds as a Go duration (`3600` → `1h0m0s`), the form `cacheDuration` takes.
 * @param {number} seconds a non-negative whole number
 */
export function goDuration(seconds) {
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new RangeError('a Go duration here is a non-negative whole number of seconds');
  }
  if (seconds === 0) return '0s';
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours > 0) return `${hours}h${minutes}m${rest}s`;
  if (minutes > 0) return `${minutes}m${rest}s`;
  return `${rest}s`;
}

/** Go's `time.ParseDuration` syntax (unsigned), which the kubelet uses for `cacheDuration`. */
const GO_DURATION = /^(0|([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/;

/**
 * Builds a response in the request's API version. Defaults: `cacheKeyType: Registry`, no
 * `cacheDuration` (the provider's `defaultCacheDuration` applies), no credentials.
 */
export class ResponseBuilder {
  /** @param {Request} request the request being answered */
  constructor(request) {
    this.apiVersion = request.apiVersion;
    this.keyType = CacheKeyType.Registry;
    this.duration = undefined;
    this.auth = new Map();
  }

  /** How the kubelet keys its cache of this answer: one of {@link CacheKeyType}. */
  cacheKeyType(type) {
    if (!Object.values(CacheKeyType).includes(type)) {
      throw new ProtocolError('cacheKeyType must be Image, Registry or Global');
    }
    this.keyType = type;
    return this;
  }

  /** How long the kubelet may reuse the answer: a Go duration (`"10m"`) or whole seconds. */
  cacheDuration(duration) {
    const text = typeof duration === 'number' ? goDuration(duration) : duration;
    if (typeof text !== 'string' || !GO_DURATION.test(text)) {
      throw new ProtocolError('cacheDuration must be a Go duration such as 10m or 1h0m0s');
    }
    this.duration = text;
    return this;
  }

  /** Adds credentials for images matching `key` (a registry host, `host/path`, or a glob). */
  credential(key, username, password) {
    if (typeof key !== 'string' || key === '') throw new ProtocolError('an auth key must be a non-empty string');
    if (typeof username !== 'string' || typeof password !== 'string') {
      throw new ProtocolError('a username and password must be strings');
    }
    this.auth.set(key, { username, password });
    return this;
  }

  /** The finished response (pass it to {@link encodeResponse}, or return it from a handler). */
  build() {
    return Object.freeze({
      apiVersion: this.apiVersion,
      cacheKeyType: this.keyType,
      cacheDuration: this.duration,
      auth: Object.freeze(Object.fromEntries(this.auth)),
    });
  }
}

/** Starts a response to `request`: `response(request).credential(...).build()`. */
export function response(request) {
  return new ResponseBuilder(request);
}

/**
 * The response as the kubelet reads it: compact JSON, fields in the kubelet's order, auth keys
 * sorted (the same bytes the Rust SDK writes).
 */
export function encodeResponse(resp) {
  const auth = {};
  for (const key of Object.keys(resp.auth ?? {}).sort()) {
    const { username, password } = resp.auth[key];
    auth[key] = { username, password };
  }
  const wire = { kind: RESPONSE_KIND, apiVersion: resp.apiVersion, cacheKeyType: resp.cacheKeyType };
  if (resp.cacheDuration !== undefined) wire.cacheDuration = resp.cacheDuration;
  wire.auth = auth;
  return JSON.stringify(wire);
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field the way Go reads one: absent or null is undefined, another type an error. */
function optionalString(object, key) {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ProtocolError(`invalid request: ${key} is not a string`);
  return value;
}

function decodeUtf8(bytes) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ProtocolError('invalid request: not UTF-8');
  }
}
