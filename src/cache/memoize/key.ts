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
  if (bytes.byteLength <= INLINE_BYTES) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return `${bytes.byteLength}:${createHash('sha256').update(bytes).digest('base64')}`;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

class KeyWriter {
  private readonly seen = new Set<object>();

  constructor(private readonly typed: boolean) {}

  write(value: unknown): string {
    switch (typeof value) {
      case 'string':
        return JSON.stringify(value);
      case 'number':
      case 'boolean':
        // Untyped keys write primitives as their text, so 1, '1' and 1n share an entry (typed=false).
        return this.typed ? String(value) : JSON.stringify(String(value));
      case 'bigint':
        return this.typed ? `${value}n` : JSON.stringify(String(value));
      case 'undefined':
        return 'undefined';
      case 'symbol':
        throw new TypeError(`memoize: a symbol argument has no stable key; pass options.key`);
      case 'function':
        return `fn#${identityOf(value as object)}`;
      default:
        return value === null ? 'null' : this.writeObject(value as object);
    }
  }

  private writeObject(value: object): string {
    if (ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      // Buffer reports 'Uint8Array' here, so a Buffer and a Uint8Array with the same bytes share an entry.
      const tag = value instanceof DataView ? 'DataView' : (value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
      return `${tag}(${bytesKey(bytes)})`;
    }
    if (value instanceof ArrayBuffer) return `ArrayBuffer(${bytesKey(new Uint8Array(value))})`;
    if (value instanceof Date) return `Date(${value.getTime()})`;
    const isArray = Array.isArray(value);
    const structural = isArray || isPlainObject(value) || value instanceof Map || value instanceof Set;
    if (!structural) return `${value.constructor?.name ?? 'object'}#${identityOf(value)}`;
    if (this.seen.has(value)) throw new TypeError('memoize: a circular argument has no stable key; pass options.key');
    this.seen.add(value);
    let out: string;
    if (isArray) {
      out = `[${value.map((item) => this.write(item)).join(',')}]`;
    } else if (value instanceof Map) {
      out = `Map{${[...value].map(([k, v]) => `${this.write(k)}=>${this.write(v)}`).sort().join(',')}}`;
    } else if (value instanceof Set) {
      out = `Set{${[...value].map((item) => this.write(item)).sort().join(',')}}`;
    } else {
      const record = value as Record<string, unknown>;
      out = `{${Object.keys(record)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${this.write(record[k])}`)
        .join(',')}}`;
    }
    this.seen.delete(value);
    return out;
  }
}

/**
 * The default memoize key of an argument list. Primitives, arrays, plain objects, Map, Set, Date and
 * typed arrays (by content) are structural; functions and class instances are keyed by identity.
 */
export function argumentsKey(args: readonly unknown[], typed = false): string {
  if (args.length === 1) {
    const only = args[0];
    // The common single-primitive call skips the writer: this is the hit path's cost.
    if (typeof only === 'string') return JSON.stringify(only);
    if (typeof only === 'number') return typed ? String(only) : `"${only}"`;
  }
  const writer = new KeyWriter(typed);
  let key = '';
  for (let i = 0; i < args.length; i++) key += (i === 0 ? '' : ',') + writer.write(args[i]);
  return key;
}
