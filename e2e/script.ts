/** `50,20x3,100` -> [50, 20, 20, 20, 100]: the gap before each content message of a scripted stream. */
export function parseGaps(spec: string | undefined): number[] {
  if (!spec) return [10, 10, 10, 10, 10];
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const [gap, times] = part.split('x');
    for (let i = 0; i < Number(times ?? 1); i++) out.push(Number(gap));
  }
  return out;
}
