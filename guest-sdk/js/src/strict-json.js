// Strict JSON, as Kubernetes decodes: one value, duplicate object keys refused. `JSON.parse`
// silently keeps the last of duplicate keys, so the text is scanned first (a small recursive
// descent over JSON's grammar that remembers each object's keys), then parsed by `JSON.parse`.
// Errors say where, never what: the text may hold a token.

/** A JSON text that is malformed or has duplicate keys. */
export class JsonError extends Error {
  constructor(message) {
    super(message);
    this.name = 'JsonError';
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * Parses `text` as exactly one JSON value, refusing duplicate keys in any object.
 * @param {string} text
 * @returns {unknown}
 */
export function parseStrict(text) {
  const scanner = new Scanner(text);
  scanner.skipWhitespace();
  scanner.value('');
  scanner.skipWhitespace();
  if (scanner.pos !== text.length) {
    throw new JsonError(`not JSON: unexpected text after the value at offset ${scanner.pos}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    // The engine's message may quote the text.
    throw new JsonError('not JSON');
  }
}

class Scanner {
  constructor(text) {
    this.text = text;
    this.pos = 0;
    this.depth = 0;
  }

  fail(what) {
    throw new JsonError(`not JSON: ${what} at offset ${this.pos}`);
  }

  skipWhitespace() {
    while (this.pos < this.text.length && WHITESPACE.has(this.text[this.pos])) this.pos++;
  }

  value(path) {
    if (++this.depth > 100) this.fail('nested too deeply');
    const c = this.text[this.pos];
    if (c === '{') this.object(path);
    else if (c === '[') this.array(path);
    else if (c === '"') this.string();
    else if (c === '-' || (c >= '0' && c <= '9')) this.number();
    else if (this.text.startsWith('true', this.pos)) this.pos += 4;
    else if (this.text.startsWith('false', this.pos)) this.pos += 5;
    else if (this.text.startsWith('null', this.pos)) this.pos += 4;
    else this.fail('expected a value');
    this.depth--;
  }

  object(path) {
    this.pos++;
    const keys = new Set();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const start = this.pos;
      this.string();
      const key = JSON.parse(this.text.slice(start, this.pos));
      const keyPath = path ? `${path}.${key}` : key;
      if (keys.has(key)) throw new JsonError(`duplicate field ${safeName(keyPath)}`);
      keys.add(key);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      this.skipWhitespace();
      this.value(keyPath);
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === '}') return;
      if (c !== ',') this.fail('expected "," or "}"');
    }
  }

  array(path) {
    this.pos++;
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (let i = 0; ; i++) {
      this.skipWhitespace();
      this.value(`${path}[${i}]`);
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === ']') return;
      if (c !== ',') this.fail('expected "," or "]"');
    }
  }

  string() {
    this.pos++;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos++];
      if (c === '"') return;
      if (c === '\\') this.pos++;
      else if (c < ' ') this.fail('control character in a string');
    }
    this.fail('unterminated string');
  }

  number() {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    if (!match) this.fail('malformed number');
    this.pos += match[0].length;
  }
}

/**
 * A field path for a message: shown when it looks like a field name, else `<field>` (a key
 * could be anything, a token included).
 */
export function safeName(path) {
  return /^[A-Za-z0-9_.\[\]-]{1,128}$/.test(path) ? path : '<field>';
}
