-- Which branch or tag a connection follows and which commit it holds. Null in rows written
-- before they were recorded; head_commit and synced_at stay null until a clone completes.
ALTER TABLE code_repos ADD COLUMN ref TEXT;
ALTER TABLE code_repos ADD COLUMN head_commit TEXT;
ALTER TABLE code_repos ADD COLUMN synced_at TIMESTAMPTZ;
