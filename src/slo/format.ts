/** Text formats shared by the rule and OpenSLO generators. */
import { DAY_MS, HOUR_MS, MINUTE_MS } from './definition';

const UNITS: Array<[string, number]> = [
  ['d', DAY_MS],
  ['h', HOUR_MS],
  ['m', MINUTE_MS],
  ['s', 1000],
  ['ms', 1],
];

/** A duration in ms as Prometheus and OpenSLO write it, in the largest unit that divides it: `5m`, `3d`, `90s`. */
export function duration(ms: number): string {
  const whole = Math.round(ms);
  for (const [unit, size] of UNITS) if (whole % size === 0) return `${whole / size}${unit}`;
  return `${whole}ms`;
}

/** A number without binary noise: 1 - 0.99 is 0.01, not 0.010000000000000009. */
export function decimal(x: number): number {
  return Number(x.toPrecision(12));
}

export type Yaml = string | number | boolean | undefined | Yaml[] | { [key: string]: Yaml };

/**
 * A plain scalar that YAML reads back as the same string: not a number, boolean or null, no `: `, no
 * trailing `:`, no flow or comment character.
 */
const PLAIN = /^[A-Za-z_](?:[\w./:-]*[\w./-])?$/;
const KEYWORD = /^(?:true|false|yes|no|on|off|null|y|n|~)$/i;

function scalar(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value);
  if (PLAIN.test(value) && !KEYWORD.test(value)) return value;
  // Single quotes need no escape but a doubled quote; control characters need a double-quoted
  // scalar, and JSON is one.
  return /[\x00-\x1f]/.test(value) ? JSON.stringify(value) : `'${value.replace(/'/g, "''")}'`;
}

/** Block-style YAML for plain data: maps keep their key order, undefined values are left out. */
export function yaml(value: Yaml, indent = ''): string {
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        const body = yaml(item, `${indent}  `);
        return typeof item === 'object' ? `${indent}- ${body.slice(indent.length + 2)}` : `${indent}- ${body}`;
      })
      .join('');
  }
  if (typeof value === 'object') {
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([key, v]) => {
        const head = `${indent}${scalar(key)}:`;
        // A multi-line string (a long PromQL expression) as a literal block, its lines as written.
        if (typeof v === 'string' && /^[^\s].*\n/.test(v) && !/[^\S\n]$/m.test(v)) {
          return `${head} |-\n${v.replace(/^(?=.)/gm, `${indent}  `)}\n`;
        }
        if (typeof v !== 'object') return `${head} ${scalar(v!)}\n`;
        const empty = Array.isArray(v) ? !v.length : !Object.keys(v).length;
        return empty ? `${head} ${Array.isArray(v) ? '[]' : '{}'}\n` : `${head}\n${yaml(v, `${indent}  `)}`;
      })
      .join('');
  }
  return `${scalar(value!)}\n`;
}
