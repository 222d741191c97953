-- Syncs that found nothing new are counted on the row instead of writing an audit row each.
-- up_to_date_syncs: how many since the connection; last_checked_at: when a sync last read the
-- Git server's commit, new or not (synced_at stays when head_commit was checked out).
ALTER TABLE code_repos ADD COLUMN up_to_date_syncs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE code_repos ADD COLUMN last_checked_at TIMESTAMPTZ;

-- The retention activity deletes audit rows older than AUDIT_RETENTION_DAYS, oldest first, in batches.
CREATE INDEX idx_audit_log_created_at ON audit_log(created_at);

-- Where each deployment's reconciler (by task queue) goes on from: every pass walks one page of
-- rows after after_id (null: from the first), so every row is reached across passes at any size.
-- from_id and run_id: where the pass that moved the cursor started, and its workflow run, so a
-- retried attempt of that pass walks the same page again instead of skipping one.
CREATE TABLE reconciler_cursors (
    task_queue  TEXT PRIMARY KEY,
    after_id    UUID,
    from_id     UUID,
    run_id      TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
