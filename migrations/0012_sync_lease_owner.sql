-- Which sync attempt holds the lease: `<workflow id>/<run id>/<activity id>:<attempt>`. Only it renews or ends
-- the lease; another takes it once it lapsed, or at once when the holder is an older attempt of the same activity.
ALTER TABLE code_repos ADD COLUMN sync_lease_owner TEXT;
