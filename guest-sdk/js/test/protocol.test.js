import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  API_VERSIONS, CacheKeyType, ProtocolError, decodeRequest, encodeResponse, errorLine, goDuration,
  handle, parseStrict, registryOf, response,
} from '../src/index.js';

const V1 = 'credentialprovider.kubelet.k8s.io/v1';
const V1BETA1 = 'credentialprovider.kubelet.k8s.io/v1beta1';
const req = (fields) => JSON.stringify({ kind: 'CredentialProviderRequest', apiVersion: V1, image: 'r.io/a', ...fields });

test('decodes every API version and the v1 token fields', () => {
  for (const apiVersion of API_VERSIONS) {
    const r = decodeRequest(req({ apiVersion }));
    assert.equal(r.apiVersion, apiVersion);
    assert.equal(r.image, 'r.io/a');
    assert.equal(r.serviceAccountToken, undefined);
  }
  const r = decodeRequest(new TextEncoder().encode(req({
    serviceAccountToken: 'jwt', serviceAccountAnnotations: { b: '2', a: null },
  })));
  assert.equal(r.serviceAccountToken, 'jwt');
  assert.deepEqual(r.serviceAccountAnnotations, { a: '', b: '2' });
  assert.equal(decodeRequest(req({ serviceAccountToken: '' })).serviceAccountToken, undefined);
  assert.equal(decodeRequest(req({ serviceAccountToken: null })).serviceAccountToken, undefined);
});

test('refuses what the kubelet and the Rust SDK refuse, never quoting a value', () => {
  const cases = [
    req({ apiVersion: 'credentialprovider.kubelet.k8s.io/v2' }),
    JSON.stringify({ kind: 'CredentialProviderRequest', image: 'r.io/a' }),
    req({ kind: 'CredentialProviderResponse' }),
    req({ kind: undefined }),
    req({ image: '' }),
    req({ image: undefined }),
    req({ image: 7 }),
    req({ image: 'r.io/a b' }),
    req({ image: 'r.io/\u0007' }),
    req({ image: `r.io/${'a'.repeat(4096)}` }),
    req({ Image: 'x' }),
    req({ secret: 'hunter2' }),
    req({ apiVersion: V1BETA1, serviceAccountToken: 'hunter2' }),
    req({ serviceAccountToken: 42 }),
    req({ serviceAccountAnnotations: ['x'] }),
    req({ serviceAccountAnnotations: { k: 1 } }),
    `{"kind":"CredentialProviderRequest","apiVersion":"${V1}","image":"r.io/a","image":"hunter2"}`,
    `${req({})} {}`,
    '[]',
    'hunter2',
    new Uint8Array([0xff, 0xfe]),
  ];
  for (const input of cases) {
    assert.throws(() => decodeRequest(input), (err) => {
      assert.ok(err instanceof ProtocolError, `${input}: ${err}`);
      assert.ok(err.message.startsWith('invalid request: '), err.message);
      assert.ok(!err.message.includes('hunter2'), err.message);
      return true;
    }, String(input));
  }
});

test('strict JSON names duplicate paths and nothing else', () => {
  assert.deepEqual(parseStrict(' {"a":[1,{"b":2}]} '), { a: [1, { b: 2 }] });
  assert.throws(() => parseStrict('{"a":{"b":1,"b":2}}'), /duplicate field a\.b/);
  assert.throws(() => parseStrict('{"a":1}x'), /unexpected text/);
  assert.throws(() => parseStrict('{"a":"unterminated'), /unterminated string/);
  assert.throws(() => parseStrict('{"hunter2 key":1,"hunter2 key":2}'), (err) => !err.message.includes('hunter2'));
});

test('builds and encodes a response like the Rust SDK', () => {
  const request = decodeRequest(req({ apiVersion: V1BETA1 }));
  const resp = response(request)
    .cacheKeyType(CacheKeyType.Image)
    .cacheDuration(3600)
    .credential('z.io', 'u2', 'p2')
    .credential('a.io', 'u', 'p')
    .build();
  assert.equal(
    encodeResponse(resp),
    `{"kind":"CredentialProviderResponse","apiVersion":"${V1BETA1}","cacheKeyType":"Image","cacheDuration":"1h0m0s","auth":{"a.io":{"username":"u","password":"p"},"z.io":{"username":"u2","password":"p2"}}}`,
  );
  assert.equal(
    encodeResponse(response(request).build()),
    `{"kind":"CredentialProviderResponse","apiVersion":"${V1BETA1}","cacheKeyType":"Registry","auth":{}}`,
  );
  assert.throws(() => response(request).cacheKeyType('Pod'), ProtocolError);
  assert.throws(() => response(request).cacheDuration('ten minutes'), ProtocolError);
  assert.equal(response(request).cacheDuration('1.5h').build().cacheDuration, '1.5h');
  assert.throws(() => response(request).credential('', 'u', 'p'), ProtocolError);
});

test('Go durations of whole seconds print as Go does', () => {
  assert.equal(goDuration(0), '0s');
  assert.equal(goDuration(45), '45s');
  assert.equal(goDuration(90), '1m30s');
  assert.equal(goDuration(3600), '1h0m0s');
  assert.equal(goDuration(90061), '25h1m1s');
  assert.throws(() => goDuration(-1), RangeError);
  assert.throws(() => goDuration(1.5), RangeError);
});

test('registryOf is the part before the first slash', () => {
  assert.equal(registryOf('registry.io:5000/a/b'), 'registry.io:5000');
  assert.equal(registryOf('registry.io'), 'registry.io');
});

test('handle answers in the request version and refuses another', async () => {
  const json = await handle(req({ apiVersion: V1BETA1 }), async (r, ctx) => {
    assert.deepEqual(ctx.args, ['--x']);
    return response(r).credential('r.io', 'u', ctx.env.TOKEN).build();
  }, { args: ['--x'], env: { TOKEN: 't' } });
  assert.ok(json.includes(`"apiVersion":"${V1BETA1}"`), json);
  assert.ok(json.includes('"r.io":{"username":"u","password":"t"}'), json);
  await assert.rejects(
    handle(req({ apiVersion: V1BETA1 }), () => ({ apiVersion: V1, cacheKeyType: 'Image', auth: {} })),
    /the kubelet would discard it/,
  );
  await assert.rejects(handle(req({}), () => undefined), /returned no response/);
  await assert.rejects(handle(req({}), () => { throw new Error('no creds\nsecond line'); }), (err) => {
    assert.equal(errorLine(err), 'error: no creds second line');
    return true;
  });
  await assert.rejects(handle(new Uint8Array(1024 * 1024 + 1), () => undefined), /larger than 1048576 bytes/);
});
