/**
 * The master key the recorded histories' payloads are encrypted under, kept beside them so the
 * replay test can decode them. A test key: it protects nothing but these fixtures (and the
 * throwaway token of the test Git server of the run that recorded them). Never use it elsewhere.
 */
export const FIXTURE_MASTER_ENCRYPTION_KEY = 'AYFVBmnOlHAyv0qWEZsHG6llV+0kkGd6B+NlezrH2SM=';
