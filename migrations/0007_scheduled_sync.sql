-- Scheduled syncs and their bound. sync_interval_seconds: how often the workflow syncs the
-- repository by itself (null: only on demand or on push). attention_required_at: when its syncs
-- stopped (N failures in a row, or the Git server refusing the token) until the user sends a new
-- token with `retry` or connects again; null while syncs run.
ALTER TABLE code_repos ADD COLUMN sync_interval_seconds INTEGER CHECK (sync_interval_seconds > 0);
ALTER TABLE code_repos ADD COLUMN attention_required_at TIMESTAMPTZ;
