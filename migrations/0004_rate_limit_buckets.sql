-- The API's per-user token buckets, shared by every API instance. tokens is what was left at
-- updated_at (the database's clock, so instances' clocks do not matter); the refill since then is
-- computed at the next request. A missing row is a full bucket, so rows idle long enough to be
-- full are deleted; the index serves that sweep.
CREATE TABLE rate_limit_buckets (
    key         TEXT PRIMARY KEY,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_rate_limit_buckets_updated_at ON rate_limit_buckets(updated_at);
