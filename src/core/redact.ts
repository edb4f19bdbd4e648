/** Query parameters whose values are secrets unless the app says otherwise. */
export const SECRET_PARAMS: readonly string[] = [
  'token',
  'access_token',
  'key',
  'api_key',
  'signature',
  'sig',
  'auth*',
  'password',
];

/**
 * The URL with the values of secret query parameters replaced by `REDACTED`. A name matches a
 * pattern case-insensitively; a trailing `*` matches any suffix (`auth*` covers `authorization`).
 */
export function redactUrl(url: string, secrets: readonly string[] = SECRET_PARAMS): string {
  // Query and fragment alike: tokens also travel in fragments (`#access_token=`).
  return url.replace(/([?&#]([^=&#?]*)=)[^&#]*/g, (pair, head: string, name: string) => {
    const lower = name.toLowerCase();
    const secret = secrets.some((p) => {
      const pattern = p.toLowerCase();
      return pattern.endsWith('*') ? lower.startsWith(pattern.slice(0, -1)) : lower === pattern;
    });
    return secret ? head + 'REDACTED' : pair;
  });
}
