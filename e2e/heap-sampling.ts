import type { CDPSession } from '@playwright/test';

/**
 * Bytes the page allocates while `run` runs, garbage included, as V8's sampling heap profiler counts
 * them (a sample every 64 B on average). Unlike the heap's growth between two GCs, it sees what a
 * scavenge collects in between, so it can count over as many messages as the code needs to be
 * optimized as a page streaming would run it.
 */
export async function bytesAllocated(cdp: CDPSession, run: () => Promise<unknown>): Promise<number> {
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.startSampling', {
    samplingInterval: 64,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await run();
  const { profile } = await cdp.send('HeapProfiler.stopSampling');
  let bytes = 0;
  const walk = (node: typeof profile.head): void => {
    bytes += node.selfSize;
    node.children.forEach(walk);
  };
  walk(profile.head);
  return bytes;
}
