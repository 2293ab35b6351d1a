/** The counters line of `npm run bench`: filled by the bench once the counter stores are bucketed. */
export async function countersLine(_redisUrl: string, _prefix: string): Promise<string> {
  return 'counters: not measured';
}
