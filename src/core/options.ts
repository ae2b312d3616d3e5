// Options objects, checked the same way at every public entry point: not an object is a TypeError,
// and so is any key the entry point does not know, named in the message. A misspelt option
// (`timout`) or one from another API must fail loudly rather than be silently ignored.
import { typeName } from './validate.js';

/**
 * `options` as a record (undefined gives {}), after checking that every own key is in `known`.
 * Keys whose value is undefined count too: `{ timout: undefined }` is still a typo.
 */
export function checkKnownOptions(where: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object, got ${typeName(options)}`);
  }
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    const list = unknown.map((key) => `'${key}'`).join(', ');
    const accepted = known.length > 0 ? known.join(', ') : 'none';
    throw new TypeError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${list} (accepted: ${accepted})`);
  }
  return options as Record<string, unknown>;
}
