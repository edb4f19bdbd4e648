import { describe, expect, it } from 'vitest';
import { Recorder } from '../src/core/recorder';
import type { TurnReport } from '../src/core/types';
import { checkSlo } from '../src/playwright/slo';
import { interactiveChat } from '../src/slo';

/** Turns judged by a recorder configured with the preset, one per TTFT given (ms after t0). */
function chatTurns(ttfts: number[]): TurnReport[] {
  let t = 0;
  const turns: TurnReport[] = [];
  const recorder = new Recorder({ slo: interactiveChat, clock: { now: () => t }, onTurn: (turn) => turns.push(turn) });
  for (const [i, ttft] of ttfts.entries()) {
    const turn = recorder.connection('fetch').startTurn((t = i * 1000));
    turn.content(1, undefined, (t += ttft));
    turn.end((t += 1));
  }
  return turns;
}

describe('toMeetSLO with an SLO definition', () => {
  it('reads the definition objective as the goodput bound and its criteria as per-turn bounds', () => {
    // 99 turns within 100 ms and one at 150 ms: goodput 0.99, exactly the preset objective.
    const turns = chatTurns([...Array<number>(99).fill(80), 150]);
    const met = checkSlo(turns, interactiveChat);
    expect(met.pass).toBe(true);
    expect(met.checks.find((c) => c.objective === 'goodput')?.detail).toBe('0.9900 (99 good of 100 valid), at least 0.99');
    // One more slow turn: 0.9802 < 0.99, and the offending turns are the two slow ones.
    const missed = checkSlo(chatTurns([...Array<number>(99).fill(80), 150, 150]), interactiveChat);
    expect(missed.pass).toBe(false);
    expect(missed.offending.map((o) => o.turn.ttftMs)).toEqual([150, 150]);
  });

  it('lets an explicit goodput win over the objective', () => {
    const turns = chatTurns([80, 150]);
    expect(checkSlo(turns, { ...interactiveChat, goodput: 0.5 }).pass).toBe(true);
    expect(checkSlo(turns, interactiveChat).pass).toBe(false);
  });
});
