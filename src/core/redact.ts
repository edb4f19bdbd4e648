/** Query parameters whose values are secrets unless the app says otherwise. */
export const SECRET_PARAMS: readonly string[] = ['token', 'key', 'api_key', 'apikey', 'signature', 'sig', 'auth*', 'password'];

/**
 * The URL with the values of secret query parameters replaced by `REDACTED`. A name matches a
 * pattern case-insensitively; a trailing `*` matches any suffix (`auth*` covers `authorization`).
 */
export function redactUrl(url: string, secrets: readonly string[] = SECRET_PARAMS): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const end = hash < 0 ? url.length : hash;
  const params = url
    .slice(q + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = decodeName(eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
      return eq >= 0 && secrets.some((s) => matches(name, s.toLowerCase())) ? `${pair.slice(0, eq)}=REDACTED` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}${url.slice(end)}`;
}

function matches(name: string, pattern: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}
