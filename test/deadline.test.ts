import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { turnDeadline } from '../src/deadline';
import { createMonitor, type TurnReport } from '../src/index';

describe('turnDeadline', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const setup = () => {
    const turns: TurnReport[] = [];
    const monitor = turnDeadline(createMonitor({ onTurn: (t) => turns.push(t) }), 1000);
    return { monitor, turns };
  };

  it('fails a turn that gets no reply within the deadline', () => {
    const { monitor, turns } = setup();
    monitor.turn().start();
    vi.advanceTimersByTime(999);
    expect(turns).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(turns.map((t) => [t.outcome, t.reason])).toEqual([['error', 'deadline: no reply for 1000 ms']]);
  });

  it('runs from the last progress, and stops when the turn ends', () => {
    const { monitor, turns } = setup();
    const slow = monitor.turn().start();
    vi.advanceTimersByTime(600);
    slow.content(1);
    vi.advanceTimersByTime(999);
    expect(turns).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(turns.map((t) => [t.outcome, t.chunks])).toEqual([['error', 1]]);

    const quick = monitor.turn().start();
    quick.content(1);
    quick.end();
    vi.advanceTimersByTime(5000);
    expect(turns.map((t) => t.outcome)).toEqual(['error', 'complete']);
  });

  it('covers the turns of a connection the app reports itself', () => {
    const { monitor, turns } = setup();
    const connection = monitor.connection('webrtc');
    connection.sent('request');
    vi.advanceTimersByTime(1000);
    expect(turns.map((t) => [t.transport, t.outcome])).toEqual([['webrtc', 'error']]);
  });

  it('names the option when the deadline is not a positive number', () => {
    expect(() => turnDeadline(createMonitor(), 0)).toThrow(/ms/);
    expect(() => turnDeadline(createMonitor(), Number.NaN)).toThrow(RangeError);
  });
});
