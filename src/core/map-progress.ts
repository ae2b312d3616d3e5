// What every map() over Futures reports as results arrive (Pool, Group, ClusterExecutor), and the
// input length it is measured against. Shared so pool/ and distributed/ need not import each other.

export interface MapProgress {
  /** Items whose results are in. */
  completed: number;
  /** Items in the input, when it has a length or size (else undefined). */
  total: number | undefined;
}

/** The number of items of an array, typed array, Set or Map; undefined for other iterables (unknown in advance). */
export function knownLength(items: unknown): number | undefined {
  if (Array.isArray(items) || ArrayBuffer.isView(items)) return (items as ArrayLike<unknown>).length;
  if (items instanceof Set || items instanceof Map) return items.size;
  return undefined;
}
