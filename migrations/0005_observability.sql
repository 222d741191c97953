-- When each wrapping key went into service: encryption_key_rotation_age_days reads the current
-- key's row. Processes record their current key at start; keys already in use are backfilled
-- from the earliest data they wrapped.
CREATE TABLE encryption_keys (
    key_id            TEXT PRIMARY KEY,
    in_service_since  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
INSERT INTO encryption_keys (key_id, in_service_since)
SELECT key_id, min(since) FROM (
    SELECT key_id, created_at AS since FROM service_keys
    UNION ALL
    SELECT token_kid, created_at FROM code_repos WHERE token_kid IS NOT NULL
) used
GROUP BY key_id;

-- The size limit a kept clone was held to: completed_repos_over_size_limit compares with it, so a
-- limit lowered later does not make earlier clones look like a bypass.
ALTER TABLE code_repos ADD COLUMN size_limit_mb NUMERIC(10,2);

-- The OpenTelemetry trace of the request or workflow that wrote the row, when tracing is on.
ALTER TABLE audit_log ADD COLUMN trace_id TEXT;
