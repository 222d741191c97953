-- A sync attempt's hold on its kept clone: until then the disk sweep leaves the sandbox alone.
-- Taken at the attempt's start, renewed while it runs, brought back to now at its end (so an
-- expiry counts from the sync's end too); an attempt that died lets it lapse. Null: never synced.
ALTER TABLE code_repos ADD COLUMN sync_lease_until TIMESTAMPTZ;
