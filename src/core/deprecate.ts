// Renamed options (issue 14's one vocabulary, docs/conventions.md) keep their old name for one minor version.
// The old name works, warns once per process (a DeprecationWarning with a 'HOTPATH_DEP_*' code, which
// `--no-deprecation` silences and `process.on('warning')` observes), and giving both names is a TypeError:
// which of two values was meant cannot be guessed.

const warned = new Set<string>();

/** Emits the DeprecationWarning `code` the first time it is asked for in this process. */
export function warnDeprecated(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: 'DeprecationWarning', code });
}

/**
 * True when `options` sets the deprecated `oldName` (warning once under `code`); false when it does not.
 * A TypeError when both names are set. `hint` says how the old value translates to the new one.
 */
export function usesRenamedOption(
  where: string,
  options: Record<string, unknown>,
  names: { old: string; new: string },
  code: string,
  hint: string,
): boolean {
  if (options[names.old] === undefined) return false;
  if (options[names.new] !== undefined)
    throw new TypeError(`${where}: options ${names.new} and ${names.old} (its deprecated name) are both set`);
  warnDeprecated(code, `${where}: option ${names.old} is deprecated, use ${names.new} (${hint})`);
  return true;
}
