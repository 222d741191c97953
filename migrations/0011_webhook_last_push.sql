-- The `after` commit of the last push webhook accepted for the repository: a replay of it (any
-- delivery id) is answered up_to_date and costs no sync. Null until a push is accepted.
ALTER TABLE code_repos ADD COLUMN last_push_after TEXT;
