// The HTTP helper against a real loopback server (Node's http module).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';

import { HttpError, formEncode, postForm, request } from '../src/index.js';

let server;
let base;
const seen = [];

before(async () => {
  server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      const path = req.url.split('?')[0];
      if (path === '/redirect') {
        res.writeHead(302, { Location: '/elsewhere' }).end();
      } else if (path === '/json') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"token":"t"}');
      } else {
        res.writeHead(418, { 'X-Reason': 'teapot' }).end('secret-body');
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

test('posts a form with Content-Length, never chunked', async () => {
  const reply = await postForm(`${base}/json?x=1`, [['a', 'b c'], ['d', 'é/']], { Accept: 'application/json' });
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json(), { token: 't' });
  assert.equal(reply.headers['content-type'], 'application/json');
  const last = seen.at(-1);
  assert.equal(last.method, 'POST');
  assert.equal(last.url, '/json?x=1');
  assert.equal(last.body, 'a=b%20c&d=%C3%A9%2F');
  assert.equal(last.headers['content-length'], String(last.body.length));
  assert.equal(last.headers['transfer-encoding'], undefined);
  assert.equal(last.headers['content-type'], 'application/x-www-form-urlencoded');
});

test('statuses and redirects are returned, not followed; errors never quote bodies', async () => {
  const redirect = await request(`${base}/redirect`);
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.location, '/elsewhere');
  const teapot = await request(`${base}/other`);
  assert.equal(teapot.status, 418);
  assert.throws(() => teapot.errorForStatus(), (err) => err instanceof HttpError && err.status === 418
    && err.message === 'server answered with status 418');
  assert.throws(() => teapot.json(), (err) => !err.message.includes('secret-body'));
});

test('bad URLs, stream bodies and unreachable servers fail with HttpError', async () => {
  await assert.rejects(request('ftp://x/'), HttpError);
  await assert.rejects(request('/relative'), HttpError);
  await assert.rejects(request(`${base}/`, { method: 'POST', body: new ReadableStream() }), /sent chunked/);
  const closed = createServer();
  await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = closed.address().port;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(request(`http://127.0.0.1:${port}/t?secret=1`), (err) => {
    assert.ok(err instanceof HttpError);
    assert.ok(!err.message.includes('secret'), err.message);
    return true;
  });
});

test('form encoding keeps only RFC 3986 unreserved characters', () => {
  assert.equal(formEncode([['a b', "x+y/z~!*'()"]]), 'a%20b=x%2By%2Fz~%21%2A%27%28%29');
});
