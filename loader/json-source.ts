// A small JSON reader that keeps what JSON.parse throws away: every object member in source order
// (duplicates included) and the offset of every key and value. The spec reader needs both to report
// duplicate keys and to point at line:col. Strict RFC 8259: no comments, no trailing commas.

export type JsonNode = JsonObject | JsonArray | JsonString | JsonNumber | JsonBoolean | JsonNull;

interface Span {
  /** Offset (UTF-16 code units) of the value's first character. */
  start: number;
  /** Offset just past the value's last character. */
  end: number;
}
export interface JsonMember {
  key: string;
  keyStart: number;
  value: JsonNode;
}
export interface JsonObject extends Span {
  kind: 'object';
  /** Members in source order; a repeated key appears once per occurrence. */
  members: JsonMember[];
}
export interface JsonArray extends Span {
  kind: 'array';
  items: JsonNode[];
}
export interface JsonString extends Span {
  kind: 'string';
  value: string;
}
export interface JsonNumber extends Span {
  kind: 'number';
  value: number;
  /** The literal as written (e.g. `1e4`, `10.0`), for messages. */
  raw: string;
}
export interface JsonBoolean extends Span {
  kind: 'boolean';
  value: boolean;
}
export interface JsonNull extends Span {
  kind: 'null';
}

export class JsonSyntaxError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'JsonSyntaxError';
    this.offset = offset;
  }
}

/** Nesting limit: keeps a hostile file from overflowing the parser's stack (specs nest 4 deep). */
const MAX_DEPTH = 128;

/** 1-based line and column (in UTF-16 code units, like editors that count characters) of an offset. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

/** A JSON node's type in words, for messages: "a string", "an object", "the number 1.5". */
export function describeNode(n: JsonNode): string {
  switch (n.kind) {
    case 'object':
      return 'an object';
    case 'array':
      return 'an array';
    case 'string':
      return `a string (${JSON.stringify(n.value)})`;
    case 'number':
      return `the number ${n.raw}`;
    case 'boolean':
      return n.value ? 'true' : 'false';
    case 'null':
      return 'null';
  }
}

export function parseJsonSource(text: string): JsonNode {
  const p = new Parser(text);
  p.ws();
  if (p.i >= text.length) throw new JsonSyntaxError('the document is empty', p.i);
  const v = p.value(0);
  p.ws();
  if (p.i < text.length) throw new JsonSyntaxError(`unexpected ${p.found()} after the top-level value`, p.i);
  return v;
}

class Parser {
  readonly s: string;
  i = 0;
  constructor(s: string) {
    this.s = s;
  }

  found(): string {
    if (this.i >= this.s.length) return 'end of file';
    const c = this.s[this.i]!;
    const code = c.charCodeAt(0);
    return code < 0x20 || code === 0x7f ? `character U+${code.toString(16).toUpperCase().padStart(4, '0')}` : `'${c}'`;
  }

  fail(expected: string): never {
    throw new JsonSyntaxError(`expected ${expected}, found ${this.found()}`, this.i);
  }

  ws(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else if (c === 0x2f && (s[this.i + 1] === '/' || s[this.i + 1] === '*')) {
        // Say why: comments are the most common "valid in my editor" mistake.
        throw new JsonSyntaxError('comments are not allowed in JSON', this.i);
      } else return;
    }
  }

  value(depth: number): JsonNode {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError(`nesting deeper than ${MAX_DEPTH} levels`, this.i);
    const c = this.s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') {
      const start = this.i;
      const value = this.string();
      return { kind: 'string', value, start, end: this.i };
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, node] of WORDS) {
      if (this.s.startsWith(word, this.i)) {
        const start = this.i;
        this.i += word.length;
        return { ...node, start, end: this.i } as JsonNode;
      }
    }
    if (c === "'") throw new JsonSyntaxError("strings must use double quotes, found '''", this.i);
    return this.fail('a value (object, array, string, number, true, false or null)');
  }

  object(depth: number): JsonObject {
    const start = this.i++;
    const members: JsonMember[] = [];
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { kind: 'object', members, start, end: this.i };
    }
    for (;;) {
      if (this.s[this.i] !== '"') {
        if (this.s[this.i] === '}' && members.length) throw new JsonSyntaxError("trailing comma before '}'", this.i);
        this.fail('a key in double quotes');
      }
      const keyStart = this.i;
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail(`':' after key ${JSON.stringify(key)}`);
      this.i++;
      this.ws();
      const value = this.value(depth + 1);
      members.push({ key, keyStart, value });
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        this.ws();
      } else if (c === '}') {
        this.i++;
        return { kind: 'object', members, start, end: this.i };
      } else this.fail("',' or '}' after a member");
    }
  }

  array(depth: number): JsonArray {
    const start = this.i++;
    const items: JsonNode[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return { kind: 'array', items, start, end: this.i };
    }
    for (;;) {
      if (this.s[this.i] === ']' && items.length) throw new JsonSyntaxError("trailing comma before ']'", this.i);
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        this.ws();
      } else if (c === ']') {
        this.i++;
        return { kind: 'array', items, start, end: this.i };
      } else this.fail("',' or ']' after an array element");
    }
  }

  string(): string {
    const s = this.s;
    const open = this.i++;
    let out = '';
    let run = this.i;
    for (;;) {
      if (this.i >= s.length) throw new JsonSyntaxError('unterminated string', open);
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(run, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) {
        throw new JsonSyntaxError(c === 0x0a ? 'unterminated string (newline inside a string)' : `control character U+${c.toString(16).toUpperCase().padStart(4, '0')} inside a string`, this.i);
      }
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += s.slice(run, this.i);
      const e = s[this.i + 1];
      const simple = e === undefined ? undefined : ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
        this.i += 2;
      } else if (e === 'u') {
        const hex = s.slice(this.i + 2, this.i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonSyntaxError('bad \\u escape (needs four hex digits)', this.i);
        out += String.fromCharCode(parseInt(hex, 16));
        this.i += 6;
      } else {
        throw new JsonSyntaxError(`bad escape '\\${e ?? ''}' in a string`, this.i);
      }
      run = this.i;
    }
  }

  number(): JsonNumber {
    const start = this.i;
    const m = NUMBER.exec(this.s.slice(start, start + 400));
    if (!m) {
      this.i++;
      if (this.s[start] === '-') this.fail('a digit after "-"');
      this.i = start;
      this.fail('a number');
    }
    const raw = m[0];
    // A leading zero followed by more digits is not JSON ("010"); the regex stops after the "0".
    this.i = start + raw.length;
    const next = this.s[this.i];
    if (next !== undefined && /[0-9.eE]/.test(next)) this.fail('a valid number (no leading zeros, digits after "." and "e")');
    return { kind: 'number', value: Number(raw), raw, start, end: this.i };
  }
}

const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const WORDS: readonly (readonly [string, { kind: 'boolean'; value: boolean } | { kind: 'null' }])[] = [
  ['true', { kind: 'boolean', value: true }],
  ['false', { kind: 'boolean', value: false }],
  ['null', { kind: 'null' }],
];
