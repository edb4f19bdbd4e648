import { afterEach, describe, expect, it } from 'vitest';
import { carryInMessage, carryOnWebSocket, mayPropagate } from '../src/otel/propagation';

const TRACEPARENT = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
const PAGE = 'https://app.test/chat/index.html';

/** Stands in for the page's `location` (Node has none). */
function onPage(href: string | undefined): void {
  if (href === undefined) Reflect.deleteProperty(globalThis, 'location');
  else Object.defineProperty(globalThis, 'location', { value: new URL(href), configurable: true });
}
afterEach(() => onPage(undefined));

describe('which URLs receive trace context', () => {
  it('the page origin does, relative URLs and ws(s) of the same host included; nothing else by default', () => {
    onPage(PAGE);
    const cases: Array<[string, boolean]> = [
      ['https://app.test/api/chat', true],
      ['/api/chat', true],
      ['api/chat?x=1', true],
      ['wss://app.test/realtime', true],
      // Another scheme, port or host is another origin.
      ['ws://app.test/realtime', false],
      ['http://app.test/api', false],
      ['https://app.test:8443/api', false],
      ['https://api.app.test/chat', false],
      ['https://llm.example/v1/chat', false],
      ['http://[::1', false],
    ];
    expect(cases.map(([url]) => [url, mayPropagate(url, [])])).toEqual(cases);
  });

  it('another origin only when allowed: a string matches the absolute URL exactly, a RegExp anywhere', () => {
    onPage(PAGE);
    const allowed = ['https://llm.example/v1/chat', /^wss:\/\/rt\.example\//];
    const cases: Array<[string, boolean]> = [
      ['https://llm.example/v1/chat', true],
      ['https://llm.example/v1/chat?stream=1', false],
      ['https://llm.example/v1/other', false],
      ['wss://rt.example/session', true],
      ['ws://rt.example/session', false],
      ['https://evil.example/?u=wss://rt.example/', false],
    ];
    expect(cases.map(([url]) => [url, mayPropagate(url, allowed)])).toEqual(cases);
  });

  it('with no page (a worker without location or Node), only allowed absolute URLs', () => {
    expect(mayPropagate('https://app.test/api', [])).toBe(false);
    expect(mayPropagate('/api', [/api/])).toBe(false);
    expect(mayPropagate('https://app.test/api', [/^https:\/\/app\.test\//])).toBe(true);
  });
});

describe('WebSocket carriers', () => {
  const headers = { traceparent: TRACEPARENT, tracestate: 'vendor=a,other=b' };
  const encodedState = 'vendor%3Da%2Cother%3Db';

  it('query: traceparent and tracestate join the query, the URL otherwise as written', () => {
    expect(carryOnWebSocket('query', 'wss://rt.test/s', ['v1'], headers)).toEqual([
      `wss://rt.test/s?traceparent=${TRACEPARENT}&tracestate=${encodedState}`,
      ['v1'],
    ]);
    expect(carryOnWebSocket('query', '/s?model=x#frag', [], { traceparent: TRACEPARENT })).toEqual([
      `/s?model=x&traceparent=${TRACEPARENT}#frag`,
      [],
    ]);
  });

  it("protocol: an entry after the app's protocols, and only when the app offers some", () => {
    expect(carryOnWebSocket('protocol', 'wss://rt.test/s', ['chat.v1', 'chat.v2'], headers)).toEqual([
      'wss://rt.test/s',
      ['chat.v1', 'chat.v2', `traceparent.${TRACEPARENT}`],
    ]);
    expect(carryOnWebSocket('protocol', 'wss://rt.test/s', [], headers)).toEqual(['wss://rt.test/s', []]);
  });

  it('none: unchanged', () => {
    expect(carryOnWebSocket('none', 'wss://rt.test/s', ['v1'], headers)).toEqual(['wss://rt.test/s', ['v1']]);
  });
});

describe('trace context in a request message', () => {
  it('joins a JSON object as top-level fields', () => {
    expect(carryInMessage('{"type":"response.create"}', 'traceparent', { traceparent: TRACEPARENT })).toBe(
      `{"type":"response.create","traceparent":"${TRACEPARENT}"}`,
    );
    expect(carryInMessage(' {"a":1}', 'tp', { traceparent: TRACEPARENT, tracestate: 'v=1' })).toBe(
      `{"a":1,"tp":"${TRACEPARENT}","tracestate":"v=1"}`,
    );
  });

  it('leaves anything else as it is: not JSON, not an object, the field already there, binary', () => {
    const h = { traceparent: TRACEPARENT };
    const buffer = new ArrayBuffer(4);
    for (const data of ['hello', '{broken', '[1,2]', 'null', '{"traceparent":"mine"}', buffer]) {
      expect(carryInMessage(data, 'traceparent', h)).toBe(data);
    }
  });
});
