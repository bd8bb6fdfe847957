/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from `min`, capped at `max`,
 * with jitter (a random point in the upper half) so clients dropped together by a restarting
 * hub do not all come back in the same instant.
 */
export function backoffDelay(attempt: number, min: number, max: number): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
