#!/usr/bin/env node
// credential-provider-build ENTRY.js -o OUT.wasm
//
// Builds a plugin into a wasm32-wasip2 component: bundles ENTRY and what it imports (the SDK
// included) into one ES module with esbuild, assembles the SDK's WIT world with the WASI 0.2
// packages jco ships, and runs componentize-js. esbuild, @bytecodealliance/componentize-js and
// @bytecodealliance/jco are the plugin's own (pinned) dev dependencies, found from the current
// directory up.

import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The WASI release whose WIT the world names (jco ships it under this name). */
const WASI_VERSION = '0.2.12';
/** The WASI packages the world and what it includes refer to. */
const WASI_PACKAGES = ['cli', 'clocks', 'filesystem', 'http', 'io', 'random', 'sockets'];

const SDK_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

function usage(message) {
  console.error(`credential-provider-build: ${message}`);
  console.error('usage: credential-provider-build ENTRY.js -o OUT.wasm');
  process.exit(2);
}

/** `node_modules/<name>` found from the current directory up. */
async function findPackage(name) {
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    try {
      await stat(join(candidate, 'package.json'));
      return candidate;
    } catch {
      if (dirname(dir) === dir) {
        usage(`${name} is not installed here (add it to devDependencies and run npm ci)`);
      }
    }
  }
}

async function main() {
  const args = process.argv.slice(2);
  const o = args.indexOf('-o');
  if (o < 0 || o + 1 >= args.length) usage('missing -o OUT.wasm');
  const output = resolve(args[o + 1]);
  const rest = args.filter((_, i) => i !== o && i !== o + 1);
  if (rest.length !== 1) usage('give exactly one entry module');
  const entry = resolve(rest[0]);

  const esbuild = createRequire(join(process.cwd(), 'package.json'))(await findPackage('esbuild'));
  const componentizeDir = await findPackage('@bytecodealliance/componentize-js');
  const componentizeManifest = JSON.parse(await readFile(join(componentizeDir, 'package.json'), 'utf8'));
  const { componentize } = await import(pathToFileURL(join(componentizeDir, componentizeManifest.exports.import)).href);
  const jcoWit = join(await findPackage('@bytecodealliance/jco'), 'lib', 'wit', 'builtin', WASI_VERSION);

  const work = await mkdtemp(join(tmpdir(), 'credential-provider-build-'));
  try {
    const bundle = join(work, 'plugin.js');
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      external: ['wasi:*'],
      outfile: bundle,
      logLevel: 'warning',
    });
    const wit = join(work, 'wit');
    await mkdir(join(wit, 'deps'), { recursive: true });
    await cp(join(SDK_DIR, 'wit', 'world.wit'), join(wit, 'world.wit'));
    for (const name of WASI_PACKAGES) {
      await mkdir(join(wit, 'deps', name));
      await cp(join(jcoWit, `wasi-${name}`, 'package.wit'), join(wit, 'deps', name, 'package.wit'));
    }
    const { component } = await componentize({ sourcePath: bundle, witPath: wit, worldName: 'plugin' });
    await mkdir(dirname(output), { recursive: true });
    await writeFile(output, component);
    console.error(`credential-provider-build: ${output} (${(component.length / 1024 / 1024).toFixed(1)} MiB)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`credential-provider-build: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
