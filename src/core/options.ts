/** A number in [0, below): NaN, infinity, negatives and non-numbers are not. */
export function isCount(v: unknown, below = Infinity): v is number {
  return typeof v === 'number' && v >= 0 && v < below;
}

/**
 * Throw a TypeError naming the first key of `options` outside `names`: a misspelt option (`ttft`
 * for `ttftMs`) would otherwise be ignored, and silently judge or measure nothing.
 */
export function rejectUnknown(options: object, names: readonly string[], where = 'earshot'): void {
  for (const key in options) if (!names.includes(key)) throw new TypeError(`${where}: unknown option "${key}"`);
}
