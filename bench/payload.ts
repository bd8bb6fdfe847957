/** What both publishers put in a publication: the send time (shared wall clock, µs precision), a sequence number, filler. */
const wallClockMs = () => performance.timeOrigin + performance.now();

export function payload(seq: number, filler: string): string {
  return `{"t":${wallClockMs().toFixed(3)},"s":${seq},"p":"${filler}"}`;
}
