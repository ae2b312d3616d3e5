// Unknown options are a TypeError naming them (a misspelt option would otherwise be silently ignored).
// To be replaced by src/core/options.ts (issue 16) once that lands on main.

export function checkKnownOptions(where: string, options: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(options).filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    const names = unknown.map((n) => `'${n}'`).join(', ');
    throw new TypeError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${names}`);
  }
}
