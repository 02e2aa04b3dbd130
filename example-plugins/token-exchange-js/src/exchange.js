// token-exchange in JavaScript: registry credentials from an OAuth 2.0 token exchange
// (RFC 8693). The twin of example-plugins/token-exchange (Rust) and token-exchange-py: the
// three answer byte for byte alike, so every message here has its twin there.

import { CacheKeyType, goDuration, postForm, response, withoutQuery } from 'credential-provider-sdk';

/** The environment variable holding the subject token when the request carries none. */
export const TOKEN_ENV = 'EXCHANGE_TOKEN';
/** The username registries expect beside an OAuth access token. */
const DEFAULT_USERNAME = 'oauth2accesstoken';
/** RFC 8693 2.1: the grant type of a token exchange. */
const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 3: the subject token is a JWT. */
const SUBJECT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** The largest `expires_in` a Go duration holds. */
const MAX_EXPIRES_IN = 9_223_372_036;
/** The longest `error` code quoted in a message. */
const MAX_ERROR_CODE = 64;
const FLAGS = ['endpoint', 'registry', 'audience', 'username'];

/**
 * The plugin's settings from its arguments (each `--name=value`).
 * @param {string[]} args
 */
export function settingsFromArgs(args) {
  const values = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) {
      const name = arg.startsWith('--') ? arg.slice(2) : undefined;
      throw new Error(FLAGS.includes(name) ? `--${name} needs a value (--${name}=VALUE)` : unknownArgument(arg));
    }
    const name = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    const key = name.startsWith('--') ? name.slice(2) : undefined;
    if (!FLAGS.includes(key)) throw new Error(unknownArgument(arg));
    if (value === '') throw new Error(`${name} needs a value (${name}=VALUE)`);
    if (key in values) throw new Error(`${name} is given twice`);
    values[key] = value;
  }
  if (values.endpoint === undefined) throw new Error('--endpoint=URL is required');
  if (!(values.endpoint.startsWith('http://') || values.endpoint.startsWith('https://'))) {
    throw new Error('--endpoint must be an http:// or https:// URL');
  }
  if (values.registry === undefined) throw new Error('--registry=HOST is required');
  return {
    endpoint: values.endpoint,
    registry: values.registry,
    audience: values.audience,
    username: values.username ?? DEFAULT_USERNAME,
  };
}

function unknownArgument(arg) {
  const name = arg.split('=', 1)[0];
  return `unknown argument ${name} (token-exchange takes --endpoint=, --registry=, --audience= and --username=)`;
}

/**
 * Answers `request`: exchanges the subject token at the endpoint, answers with the access token.
 * @param {import('credential-provider-sdk').Request} request
 * @param {{args: string[], env: Record<string, string>}} context
 */
export async function provide(request, { args, env }) {
  const settings = settingsFromArgs(args);
  const subject = request.serviceAccountToken ?? (env[TOKEN_ENV] || undefined);
  if (subject === undefined) {
    throw new Error(
      `no subject token: the request has no serviceAccountToken and ${TOKEN_ENV} is not set (grant it with --env ${TOKEN_ENV})`,
    );
  }
  const fields = [
    ['grant_type', GRANT_TYPE],
    ['subject_token', subject],
    ['subject_token_type', SUBJECT_TOKEN_TYPE],
  ];
  if (settings.audience !== undefined) fields.push(['audience', settings.audience]);
  const endpoint = withoutQuery(settings.endpoint);
  let reply;
  try {
    reply = await postForm(settings.endpoint, fields, { Accept: 'application/json' });
  } catch (err) {
    throw new Error(`token exchange at ${endpoint} failed: ${err.message}`);
  }
  if (reply.status !== 200) {
    const code = errorCode(reply.text(), subject);
    throw new Error(code === undefined
      ? `token endpoint ${endpoint} answered status ${reply.status} without an RFC 6749 error code`
      : `token endpoint ${endpoint} answered status ${reply.status} with error ${code}`);
  }
  let grant;
  try {
    grant = parseGrant(reply.text());
  } catch (err) {
    throw new Error(`token endpoint ${endpoint} answered 200 but not a token: ${err.message}`);
  }
  const answer = response(request)
    .cacheKeyType(CacheKeyType.Registry)
    .credential(settings.registry, settings.username, grant.accessToken);
  if (grant.expiresIn !== undefined) answer.cacheDuration(goDuration(grant.expiresIn));
  return answer.build();
}

/** `access_token` and `expires_in` of a token response; the error never quotes the body. */
export function parseGrant(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('not a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  const accessToken = value.access_token;
  if (typeof accessToken !== 'string' || accessToken === '') throw new Error('access_token is missing or empty');
  const expires = value.expires_in;
  if (expires === undefined || expires === null) return { accessToken, expiresIn: undefined };
  if (typeof expires !== 'number' || !Number.isInteger(expires) || expires < 0 || expires > MAX_EXPIRES_IN) {
    throw new Error('expires_in is not a whole number of seconds a Go duration holds');
  }
  return { accessToken, expiresIn: expires };
}

/**
 * The RFC 6749 (5.2) `error` code of an error reply, if it is one: lowercase letters, digits and
 * `_`, at most 64 long, and not the subject token; anything else is never quoted.
 */
export function errorCode(text, subject) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const code = typeof value === 'object' && value !== null && !Array.isArray(value) ? value.error : undefined;
  if (typeof code !== 'string' || code.length > MAX_ERROR_CODE || !/^[a-z][a-z0-9_]*$/.test(code) || code === subject) {
    return undefined;
  }
  return code;
}
