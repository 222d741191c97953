// Every patch id the connect workflow calls patched() with. Never rename one: recorded histories carry the markers.

/** encryptToken and persistRepository as local activities. Remove when no run admitted before 2026-11-26 is open. */
export const ADMISSION_AS_LOCAL_ACTIVITIES = 'admission-local-activities';
/** The sync signal acted on. Remove when no run kept before syncs on demand were deployed is open. */
export const SYNC_ON_DEMAND = 'sync-on-demand';
/** Scheduled syncs, the failure bound, continue-as-new. Remove when no run kept before 2026-11-27 is open. */
export const SYNC_SCHEDULE_AND_BOUNDS = 'sync-schedule-and-bounds';
/** Syncs on the host's sync queue. Remove when no run kept before 2026-12-07 is open. */
export const SYNCS_ON_OWN_SLOTS = 'syncs-on-own-slots';
/** A user's sync merged into a pending push's stays the user's. Remove when no run kept before 2026-12-07 is open. */
export const USER_SYNC_KEPT = 'user-sync-kept';
/** Service failures retried with backoff, not counted. Remove when no run kept before 2026-12-07 is open. */
export const SERVICE_FAILURES_RETRIED = 'service-failures-retried';
/** A delivery id signalled again is taken once. Remove when no run kept before 2026-11-27 (dc40537) is open. */
export const DELIVERY_DEDUPLICATION = 'delivery-deduplication';
/** A retry waits out a sync under way. Remove when no run kept before 2026-11-27 (8d451f7) is open. */
export const RETRY_WAITS_OUT_SYNC = 'retry-waits-out-sync';
