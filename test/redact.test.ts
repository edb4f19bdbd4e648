import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/core/redact';

describe('redactUrl', () => {
  it('redacts the default secrets, case-insensitively, keeping everything else', () => {
    expect(redactUrl('wss://h/p?model=x&token=abc&API_KEY=k&Authorization=Bearer%20y&sig=s#frag')).toBe(
      'wss://h/p?model=x&token=REDACTED&API_KEY=REDACTED&Authorization=REDACTED&sig=REDACTED#frag',
    );
    expect(redactUrl('/v1/chat?key=1&keyboard=2&password=&signature=z')).toBe(
      '/v1/chat?key=REDACTED&keyboard=2&password=REDACTED&signature=REDACTED',
    );
  });

  it('leaves URLs without a query, and names without a value, untouched', () => {
    expect(redactUrl('https://h/p')).toBe('https://h/p');
    expect(redactUrl('https://h/a=b/p')).toBe('https://h/a=b/p');
    expect(redactUrl('https://h/p?token&x=1')).toBe('https://h/p?token&x=1');
  });

  it('redacts secrets carried in the fragment too', () => {
    expect(redactUrl('https://h/cb#access_token=abc&state=s')).toBe('https://h/cb#access_token=REDACTED&state=s');
    expect(redactUrl('https://h/p#a?token=1')).toBe('https://h/p#a?token=REDACTED');
  });

  it('takes the app’s own list, with prefix patterns', () => {
    expect(redactUrl('/s?session_id=1&token=2&x-amz-date=3', ['session*', 'x-amz-*'])).toBe(
      '/s?session_id=REDACTED&token=2&x-amz-date=REDACTED',
    );
  });
});
