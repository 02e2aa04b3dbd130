// The plugin's logic under Node against a real loopback token endpoint (Node's http module)
// that checks the form and refuses chunked bodies, as the end-to-end tests' server does.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, beforeEach, test } from 'node:test';

import { handle } from 'credential-provider-sdk';

import { errorCode, parseGrant, provide, settingsFromArgs } from '../src/exchange.js';

const V1 = 'credentialprovider.kubelet.k8s.io/v1';
const V1BETA1 = 'credentialprovider.kubelet.k8s.io/v1beta1';
const request = (apiVersion, extra = {}) =>
  JSON.stringify({ kind: 'CredentialProviderRequest', apiVersion, image: 'registry.example.com/app', ...extra });

let server;
let endpoint;
let reply;
const received = [];

before(async () => {
  server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), url: req.url });
      if (req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] === undefined) {
        res.writeHead(411).end('{"error":"invalid_request"}');
        return;
      }
      res.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(reply.body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${server.address().port}/token`;
});

after(() => server.close());

beforeEach(() => {
  received.length = 0;
  reply = { status: 200, body: '{"access_token":"at-123","token_type":"Bearer","expires_in":3600}' };
});

const args = (...extra) => [`--endpoint=${endpoint}?tenant=t1`, '--registry=registry.example.com', ...extra];

test('exchanges the env token and answers in the request version', async () => {
  const out = await handle(request(V1BETA1), provide, { args: args(), env: { EXCHANGE_TOKEN: 'env.jwt' } });
  assert.equal(
    out,
    `{"kind":"CredentialProviderResponse","apiVersion":"${V1BETA1}","cacheKeyType":"Registry","cacheDuration":"1h0m0s","auth":{"registry.example.com":{"username":"oauth2accesstoken","password":"at-123"}}}`,
  );
  assert.equal(received.length, 1);
  assert.equal(received[0].url, '/token?tenant=t1');
  assert.equal(received[0].headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(
    received[0].body,
    'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=env.jwt&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt',
  );
});

test('the request token wins over the env; audience and username apply', async () => {
  reply.body = '{"access_token":"at-9","expires_in":90}';
  const out = await handle(request(V1, { serviceAccountToken: 'sa.jwt.token' }), provide, {
    args: args('--audience=registry reader', '--username=robot'),
    env: { EXCHANGE_TOKEN: 'env.jwt' },
  });
  assert.ok(out.includes('"cacheDuration":"1m30s"'), out);
  assert.ok(out.includes('"registry.example.com":{"username":"robot","password":"at-9"}'), out);
  assert.ok(received[0].body.includes('&subject_token=sa.jwt.token&'), received[0].body);
  assert.ok(received[0].body.endsWith('&audience=registry%20reader'), received[0].body);
});

test('without any token nothing is sent', async () => {
  for (const env of [{}, { EXCHANGE_TOKEN: '' }]) {
    await assert.rejects(handle(request(V1), provide, { args: args(), env }), {
      message: 'no subject token: the request has no serviceAccountToken and EXCHANGE_TOKEN is not set (grant it with --env EXCHANGE_TOKEN)',
    });
  }
  assert.equal(received.length, 0);
});

test('an error status names the status and the error code, never the token', async () => {
  reply = { status: 400, body: '{"error":"invalid_grant","error_description":"token env.jwt expired"}' };
  await assert.rejects(handle(request(V1), provide, { args: args(), env: { EXCHANGE_TOKEN: 'env.jwt' } }), {
    message: `token endpoint ${endpoint} answered status 400 with error invalid_grant`,
  });
  for (const body of ['not json', '{"error":"env.jwt"}', '{"error":"Bad Code"}', '{"error":7}']) {
    reply = { status: 401, body };
    await assert.rejects(handle(request(V1), provide, { args: args(), env: { EXCHANGE_TOKEN: 'env.jwt' } }), {
      message: `token endpoint ${endpoint} answered status 401 without an RFC 6749 error code`,
    });
  }
  assert.equal(errorCode('{"error":"abc"}', 'abc'), undefined);
});

test('a malformed grant is refused without quoting it', () => {
  const why = 'expires_in is not a whole number of seconds a Go duration holds';
  for (const [body, message] of [
    ['[]', 'not a JSON object'],
    ['<html>secret-at</html>', 'not a JSON object'],
    ['{"access_token":""}', 'access_token is missing or empty'],
    ['{"access_token":"secret-at","expires_in":"3600"}', why],
    ['{"access_token":"secret-at","expires_in":1.5}', why],
    ['{"access_token":"secret-at","expires_in":-1}', why],
    ['{"access_token":"secret-at","expires_in":1e12}', why],
  ]) {
    assert.throws(() => parseGrant(body), { message }, body);
  }
  assert.deepEqual(parseGrant('{"access_token":"at","expires_in":3600.0}'), { accessToken: 'at', expiresIn: 3600 });
  assert.deepEqual(parseGrant('{"access_token":"at"}'), { accessToken: 'at', expiresIn: undefined });
});

test('a transport failure names the endpoint', async () => {
  await assert.rejects(
    handle(request(V1), provide, { args: ['--endpoint=http://127.0.0.1:9/token?x=1', '--registry=r'], env: { EXCHANGE_TOKEN: 'e' } }),
    (err) => err.message.startsWith('token exchange at http://127.0.0.1:9/token failed: '),
  );
});

test('arguments are checked', () => {
  const fails = (list, message) => assert.throws(() => settingsFromArgs(list), { message });
  fails(['--registry=r'], '--endpoint=URL is required');
  fails(['--endpoint=http://e/'], '--registry=HOST is required');
  fails(['--endpoint=ftp://e/', '--registry=r'], '--endpoint must be an http:// or https:// URL');
  fails(['--endpoint'], '--endpoint needs a value (--endpoint=VALUE)');
  fails(['--audience='], '--audience needs a value (--audience=VALUE)');
  fails(['--registry=a', '--registry=b'], '--registry is given twice');
  fails(['--scope=x'], 'unknown argument --scope (token-exchange takes --endpoint=, --registry=, --audience= and --username=)');
  fails(['get-credentials'], 'unknown argument get-credentials (token-exchange takes --endpoint=, --registry=, --audience= and --username=)');
  const s = settingsFromArgs(['--endpoint=https://sts.example/t', '--registry=r.io']);
  assert.equal(s.username, 'oauth2accesstoken');
  assert.equal(s.audience, undefined);
});
