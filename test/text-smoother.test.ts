import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { smoothText, TextSmoother, type TextSmootherStats } from '../src/text';

type Release = [number, string];

/**
 * Simulated time: pushes each delta at its time, ends the turn at `endAt`, and polls at every push
 * and at every time the smoother schedules up to `until`, as the browser wrapper's timers do.
 * Returns the releases.
 */
function drive(s: TextSmoother, pushes: Array<[number, string]>, endAt?: number, until = Infinity): Release[] {
  const out: Release[] = [];
  let i = 0;
  let ended = endAt === undefined;
  for (;;) {
    const t = Math.min(i < pushes.length ? pushes[i][0] : ended ? Infinity : endAt!, s.nextAt());
    if (t > until || t === Infinity) return out;
    for (; i < pushes.length && pushes[i][0] === t; i++) s.push(pushes[i][1], t);
    if (!ended && i === pushes.length && t === endAt) {
      s.end(t);
      ended = true;
    }
    const text = s.poll(t);
    if (text) out.push([t, text]);
  }
}

/** Population σ, as the smoother reports jitter. */
const sigma = (xs: number[]): number => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
};
const gaps = (ts: number[]): number[] => ts.slice(1).map((t, i) => t - ts[i]);

/** The units a text splits into: each released by its own poll once a pace is set. */
function units(...deltas: string[]): string[] {
  const s = new TextSmoother();
  s.push(' ', 0);
  deltas.forEach((d, i) => s.push(d, 1000 + i));
  s.end(1000 + deltas.length);
  const out: string[] = [];
  for (let t = s.nextAt(); t < Infinity; t = s.nextAt()) out.push(s.poll(t));
  out[0] = out[0].slice(1);
  return out;
}

const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('TextSmoother: pace', () => {
  it('spreads bursts at the source rate: exact schedule and stats', () => {
    const s = new TextSmoother();
    // Four words every 200 ms: 50 ms per word. The first burst has no rate to pace by.
    const out = drive(s, [[0, 'a b c d '], [200, 'e f g h '], [400, 'i j k l ']], 400);
    expect(out).toEqual([
      [0, 'a b c d'],
      [200, ' e'],
      [250, ' f'],
      [300, ' g'],
      [350, ' h'],
      [400, ' i'],
      [450, ' j'],
      [500, ' k'],
      [550, ' l '],
    ]);
    const arrivals = [0, 0, 0, 0, 200, 200, 200, 200, 400, 400, 400, 400];
    const shown = [0, 0, 0, 0, 200, 250, 300, 350, 400, 450, 500, 550];
    const delays = shown.map((t, i) => t - arrivals[i]);
    const st = s.stats();
    expect(st).toMatchObject({ units: 12, pending: 0, delayMaxMs: 150, arrivalMaxGapMs: 200, displayMaxGapMs: 200, targetDelayMs: 200, merged: 0, partial: 0, invalid: 0 });
    expect(st.delayMeanMs).toBeCloseTo(delays.reduce((a, b) => a + b) / 12, 9);
    expect(st.delayMeanMs).toBeCloseTo(50, 9);
    expect(st.arrivalJitterMs).toBeCloseTo(sigma(gaps(arrivals)), 9);
    expect(st.displayJitterMs).toBeCloseTo(sigma(gaps(shown)), 9);
    expect(st.arrivalJitterMs).toBeCloseTo(77.1389, 4);
    expect(st.displayJitterMs).toBeCloseTo(52.2233, 4);
    expect(st.intervalMs).toBeCloseTo(50, 9);
  });

  it('adds no delay to a source steadier than its pace', () => {
    const s = new TextSmoother();
    const out = drive(s, [[0, ' w0'], [100, ' w1'], [200, ' w2'], [300, ' w3'], [400, ' w4']], 400);
    expect(out).toEqual([[0, ' w0'], [100, ' w1'], [200, ' w2'], [300, ' w3'], [400, ' w4']]);
    expect(s.stats()).toMatchObject({ units: 5, delayMeanMs: 0, delayMaxMs: 0, arrivalJitterMs: 0, displayJitterMs: 0, partial: 0, intervalMs: 100, targetDelayMs: 100 });
  });

  it('catches up evenly when the source speeds up, every unit within maxDelayMs', () => {
    const s = new TextSmoother({ maxDelayMs: 150 });
    const burst = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ') + ' ';
    const out = drive(s, [[0, 'a b c d '], [200, 'e f g h '], [400, 'i j k l '], [600, burst]], 600);
    // Gaps count up to the bound: 150 ms per 4 words.
    expect(out.slice(1, 9).map(([t]) => t)).toEqual([200, 237.5, 275, 312.5, 400, 437.5, 475, 512.5]);
    // Twenty words at once: spread evenly to meet the last one's deadline, 600 + 150 ms.
    const tail = out.slice(9);
    expect(tail.map(([, w]) => w)).toEqual(burst.trim().split(' ').map((w, i) => (i === 19 ? ` ${w} ` : ` ${w}`)));
    tail.forEach(([t], k) => expect(t).toBeCloseTo(600 + (k * 150) / 19, 9));
    expect(s.stats().delayMaxMs).toBeCloseTo(150, 9);
  });

  it('never holds a unit past the bound, never falls behind the source, and loses no text', () => {
    let seed = 7;
    const rand = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (const maxDelayMs of [100, 250]) {
      for (let run = 0; run < 20; run++) {
        const pushes: Array<[number, string]> = [];
        let t = 0;
        for (let k = 0; k < 60; k++) {
          t += rand() < 0.1 ? 600 * rand() : 40 * rand();
          const words = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => ' ' + 'xyz'.slice(0, 1 + Math.floor(rand() * 3)));
          pushes.push([t, words.join('')]);
        }
        const s = new TextSmoother({ maxDelayMs });
        const out = drive(s, pushes, t);
        expect(out.map(([, x]) => x).join('')).toBe(pushes.map(([, x]) => x).join(''));
        const st = s.stats();
        expect(st.delayMaxMs).toBeLessThanOrEqual(maxDelayMs + 1e-9);
        expect(out[out.length - 1][0] - t).toBeLessThanOrEqual(maxDelayMs + 1e-9);
        expect(st.pending).toBe(0);
      }
    }
  });

  it('polling late releases everything due by then, in order; polling early releases nothing', () => {
    const s = new TextSmoother();
    drive(s, [[0, 'a b c d '], [200, 'e f g h ']]);
    s.push('i j k l ', 400);
    expect(s.poll(400)).toBe(' i');
    expect(s.nextAt()).toBe(450);
    expect(s.poll(449.9)).toBe('');
    expect(s.poll(520)).toBe(' j k');
    // The pace runs from when the last release was due, so a late poll does not slow it.
    expect(s.nextAt()).toBe(550);
  });

  it('reports Infinity as the next release when nothing waits', () => {
    const s = new TextSmoother();
    expect(s.nextAt()).toBe(Infinity);
    expect(s.poll(5)).toBe('');
    s.push('  ', 10);
    expect(s.nextAt()).toBe(Infinity);
  });
});

describe('TextSmoother: end, flush, turns', () => {
  it('end() queues the word held for its end, released at pace', () => {
    const s = new TextSmoother();
    const out = drive(s, [[0, 'a '], [100, 'b '], [200, 'c wor']], undefined, 250);
    expect(out).toEqual([[0, 'a'], [100, ' b'], [200, ' c']]);
    expect(s.stats().pending).toBe(1);
    s.end(250);
    expect(s.nextAt()).toBe(300);
    expect(s.poll(300)).toBe(' wor');
    expect(s.stats()).toMatchObject({ units: 4, pending: 0, partial: 0, delayMaxMs: 100 });
    expect(s.nextAt()).toBe(Infinity);
  });

  it('sends whitespace left at the end with the last word, or alone when nothing is queued', () => {
    const s = new TextSmoother();
    expect(drive(s, [[0, 'a b '], [100, 'c d '], [200, 'e f\n\n']], 200)).toEqual([
      [0, 'a b'],
      [100, ' c'],
      [150, ' d'],
      [200, ' e'],
      [250, ' f\n\n'],
    ]);
    expect(s.stats().units).toBe(6);
    const alone = new TextSmoother();
    expect(drive(alone, [[0, 'a '], [100, 'b \n']], 120)).toEqual([[0, 'a'], [100, ' b'], [120, ' \n']]);
    expect(alone.stats().units).toBe(2);
  });

  it('flush() releases everything now; a word cut by it counts a fragment', () => {
    const s = new TextSmoother();
    const out = drive(s, [[0, 'a b '], [100, 'c d '], [200, 'e f wo']], undefined, 200);
    expect(out.map(([, x]) => x).join('')).toBe('a b c d e');
    expect(s.flush(210)).toBe(' f wo');
    expect(s.flush(211)).toBe('');
    s.push('rd g ', 220);
    expect(s.stats()).toMatchObject({ partial: 1, pending: 2 });
    s.end(230);
    expect(s.flush(230)).toBe('rd g ');
    expect(s.stats()).toMatchObject({ units: 9, partial: 1, pending: 0 });
  });

  it('a push after end() starts a new turn: its stats start once the last turn is out', () => {
    const s = new TextSmoother();
    drive(s, [[0, 'a b '], [100, 'c d ']], 100, 100);
    expect(s.nextAt()).toBe(150);
    s.push('x ', 120);
    expect(s.stats().units).toBe(3);
    expect(s.poll(150)).toBe(' d ');
    expect(s.stats()).toMatchObject({ units: 0, pending: 1 });
    expect(s.firstReleaseMs).toBeNaN();
    // The pace carries over: 50 ms after the last release.
    expect(s.nextAt()).toBe(200);
    expect(s.poll(200)).toBe('x');
    expect(s.stats()).toMatchObject({ units: 1, delayMeanMs: 80, delayMaxMs: 80 });
    expect(s.firstReleaseMs).toBe(200);
  });
});

describe('TextSmoother: units', () => {
  it('keeps whitespace before a word and punctuation after it', () => {
    expect(units('Hello, world! (It works.) ', 'ok')).toEqual(['Hello,', ' world!', ' (It', ' works.)', ' ok']);
    expect(units('He', 'llo wo', 'rld.\n\nNext')).toEqual(['Hello', ' world.', '\n\nNext']);
  });

  it('releases CJK character by character, punctuation and marks with the character before', () => {
    expect(units('你好，世界。', '「今天」')).toEqual(['你', '好，', '世', '界。', '「今', '天」']);
    expect(units('使用GPT模型')).toEqual(['使', '用', 'GPT', '模', '型']);
    expect(units('か\u3099ー', 'ム')).toEqual(['か\u3099ー', 'ム']);
    expect(units('你好!')).toEqual(['你', '好!']);
  });

  it('keeps combining marks, emoji sequences and no-break spaces inside their unit', () => {
    expect(units('cafe\u0301 ok')).toEqual(['cafe\u0301', ' ok']);
    expect(units('好👨‍👩‍👧👍🏽')).toEqual(['好', '👨‍👩‍👧👍🏽']);
    expect(units('100\u00a0km now')).toEqual(['100\u00a0km', ' now']);
    expect(units('𠀀𠀁')).toEqual(['𠀀', '𠀁']);
  });

  it('never splits a surrogate pair cut between deltas, even by flush()', () => {
    const s = new TextSmoother();
    s.push('ab \uD83D', 0);
    expect(s.poll(0)).toBe('ab');
    expect(s.flush(1)).toBe('');
    s.push('\uDE00 c', 2);
    const out = [s.poll(2), s.flush(3)];
    expect(out).toEqual([' 😀', ' c']);
    for (const x of out) expect(lone.test(x)).toBe(false);
    // A high surrogate left at the end of a turn is passed on as it came.
    s.push(' d\uD83D', 4);
    s.end(5);
    expect(s.flush(5)).toBe(' d\uD83D');
  });
});

describe('TextSmoother: bounded memory and bad input', () => {
  it('merges what does not fit the queue into its last unit, counted', () => {
    const s = new TextSmoother({ capacity: 4 });
    s.push('a b c d e f ', 0);
    expect(s.stats()).toMatchObject({ pending: 4, merged: 2 });
    expect(s.poll(0)).toBe('a b c d e f');
    expect(s.stats()).toMatchObject({ units: 4, merged: 2 });
  });

  it('counts and ignores what is not text or not a time, and never throws', () => {
    const s = new TextSmoother({ maxDelayMs: Number.NaN, capacity: -3 });
    expect(() => {
      s.push(42 as unknown as string, 0);
      s.push(undefined as unknown as string, 0);
      s.push('a ', Number.NaN);
      s.push('b ', 100);
      s.push('c ', 50); // a clock going back is held at its last reading
      s.end(Number.POSITIVE_INFINITY);
      s.poll(Number.NaN);
      s.flush(200);
    }).not.toThrow();
    expect(s.stats().invalid).toBe(5);
    expect(drive(s, [[300, 'd ']])).toEqual([[300, 'd']]);
  });
});

describe('smoothText', () => {
  let t0 = 0;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'queueMicrotask'] });
    t0 = performance.now();
  });
  afterEach(() => vi.useRealTimers());

  it('hands text over when due, reports the first display and the end of the turn', () => {
    const shown: Release[] = [];
    const first: number[] = [];
    const done: TextSmootherStats[] = [];
    const text = smoothText((x) => shown.push([performance.now() - t0, x]), {
      onFirstDisplay: (at) => first.push(at - t0),
      onDisplayEnd: (st) => done.push(st),
    });
    text.push('a b ');
    expect(shown).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(shown).toEqual([[0, 'a b']]);
    expect(first).toEqual([0]);
    expect(text.firstDisplayedAt).toBe(t0);
    vi.advanceTimersByTime(100);
    text.push('c d ');
    vi.advanceTimersByTime(100);
    text.push('e f ');
    text.end();
    vi.advanceTimersByTime(100);
    expect(shown).toEqual([[0, 'a b'], [100, ' c'], [150, ' d'], [200, ' e'], [250, ' f ']]);
    expect(first).toEqual([0]);
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ units: 6, pending: 0, delayMaxMs: 50 });
    expect(text.internalErrors).toBe(0);
  });

  it("lets the app's callback errors surface without stopping the pace", () => {
    const shown: string[] = [];
    const text = smoothText((x) => {
      shown.push(x);
      if (x === ' c') throw new Error('app bug');
    });
    text.push('a b ');
    vi.advanceTimersByTime(100);
    text.push('c d ');
    expect(() => vi.advanceTimersByTime(0)).toThrow('app bug');
    vi.advanceTimersByTime(50);
    expect(shown).toEqual(['a b', ' c', ' d']);
    expect(text.internalErrors).toBe(0);
  });

  it('flush() hands everything over at once; the next turn reports its own first display', () => {
    const shown: string[] = [];
    const first: number[] = [];
    const text = smoothText((x) => shown.push(x), { onFirstDisplay: (at) => first.push(at - t0) });
    text.push('a b ');
    vi.advanceTimersByTime(100);
    text.push('c d e ');
    text.flush();
    expect(shown).toEqual(['a b', ' c d e']);
    text.end();
    vi.advanceTimersByTime(1000);
    text.push('x ');
    vi.advanceTimersByTime(0);
    // The space left at the end of the first turn goes out when that turn ends.
    expect(shown).toEqual(['a b', ' c d e', ' ', 'x']);
    expect(first).toEqual([0, 1100]);
    expect(text.stats().units).toBe(1);
  });
});
