// Stable cache keys for argument lists: equal arguments give equal strings whatever the property
// order of plain objects, typed arrays are keyed by their bytes, other objects by identity.
import { createHash } from 'node:crypto';

/** Typed arrays up to this many bytes are written into the key as hex; longer ones as a SHA-256 digest. */
const INLINE_BYTES = 32;

const identities = new WeakMap<object, number>();
let nextIdentity = 0;

function identityOf(value: object): number {
  let id = identities.get(value);
  if (id === undefined) identities.set(value, (id = ++nextIdentity));
  return id;
}

function bytesKey(bytes: Uint8Array): string {
  if (bytes.byteLength <= INLINE_BYTES)
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return `${bytes.byteLength}:${createHash('sha256').update(bytes).digest('base64')}`;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Key text of a non-object value. Untyped keys write primitives as their text, so 1, '1' and 1n share an entry. */
function primitiveKey(value: unknown, typed: boolean): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
    case 'boolean':
      // Number and boolean text never needs escaping, so quoting it equals JSON.stringify(String(value)).
      return typed ? String(value) : `"${value}"`;
    case 'bigint':
      return typed ? `${value}n` : `"${value}"`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      throw new TypeError('memoize: a symbol argument has no stable key; pass options.key');
    default:
      return value === null ? 'null' : `fn#${identityOf(value as object)}`;
  }
}

/** `stack` holds the containers being written, to refuse cycles (it stays as short as the nesting). */
function valueKey(value: unknown, typed: boolean, stack: object[]): string {
  return typeof value === 'object' && value !== null ? objectKey(value, typed, stack) : primitiveKey(value, typed);
}

const PLAIN_NAME = /^[A-Za-z_$][\w$]*$/;

function objectKey(value: object, typed: boolean, stack: object[]): string {
  const plain = isPlainObject(value);
  const isArray = !plain && Array.isArray(value);
  if (!plain && !isArray) {
    if (ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      // Buffer reports 'Uint8Array' here, so a Buffer and a Uint8Array with the same bytes share an entry.
      const tag =
        value instanceof DataView
          ? 'DataView'
          : (value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
      return `${tag}(${bytesKey(bytes)})`;
    }
    if (value instanceof ArrayBuffer) return `ArrayBuffer(${bytesKey(new Uint8Array(value))})`;
    if (value instanceof Date) return `Date(${value.getTime()})`;
    if (!(value instanceof Map) && !(value instanceof Set))
      return `${value.constructor?.name ?? 'object'}#${identityOf(value)}`;
  }
  if (stack.includes(value)) throw new TypeError('memoize: a circular argument has no stable key; pass options.key');
  stack.push(value);
  let out: string;
  if (plain) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    out = '{';
    for (let i = 0; i < keys.length; i++) {
      const name = keys[i];
      // Identifier-like names need no escaping; quoting them is what JSON.stringify would give.
      const quoted = PLAIN_NAME.test(name) ? `"${name}"` : JSON.stringify(name);
      out += `${i === 0 ? '' : ','}${quoted}:${valueKey(record[name], typed, stack)}`;
    }
    out += '}';
  } else if (isArray) {
    const items = value as unknown[];
    out = '[';
    for (let i = 0; i < items.length; i++) out += (i === 0 ? '' : ',') + valueKey(items[i], typed, stack);
    out += ']';
  } else if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => `${valueKey(k, typed, stack)}=>${valueKey(v, typed, stack)}`);
    out = `Map{${entries.sort().join(',')}}`;
  } else {
    out = `Set{${[...(value as Set<unknown>)]
      .map((item) => valueKey(item, typed, stack))
      .sort()
      .join(',')}}`;
  }
  stack.pop();
  return out;
}

/**
 * The key part of a call's receiver (`this`), so that a function shared between instances (a
 * prototype method) never answers one instance with another's result. Empty for a plain call.
 */
export function receiverKey(self: unknown): string {
  if (self === undefined || self === globalThis) return '';
  const isObject = typeof self === 'object' || typeof self === 'function';
  return `this=${isObject ? `#${identityOf(self as object)}` : primitiveKey(self, true)};`;
}

/**
 * The default memoize key of an argument list. Primitives, arrays, plain objects, Map, Set, Date and
 * typed arrays (by content) are structural; functions and class instances are keyed by identity.
 */
export function argumentsKey(args: readonly unknown[], typed = false): string {
  let key = '';
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    // Primitives skip the container bookkeeping: this loop is most of a hit's cost.
    const part = typeof value === 'object' && value !== null ? objectKey(value, typed, []) : primitiveKey(value, typed);
    key = i === 0 ? part : `${key},${part}`;
  }
  return key;
}
