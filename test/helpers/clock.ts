// The story clock the check and rollback tests share: T0, registrations an hour before it, and
// hours after it as git and GitHub write times (no milliseconds).
export const T0 = Date.parse('2026-11-20T10:00:00Z');
/** Registrations happen an hour before T0 (the CLI helper drops SOURCE_DATE_EPOCH unless given). */
export const registeredBefore = { SOURCE_DATE_EPOCH: String((T0 - 3_600_000) / 1000) };
export const hours = (h: number) => new Date(T0 + h * 3_600_000).toISOString().replace('.000Z', 'Z');
