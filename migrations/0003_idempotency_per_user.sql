-- Idempotency keys are scoped per user: the workflow id carries the user's scope and the key, so
-- it is the unique handle of a request; the same request_id from two users makes two requests.
ALTER TABLE code_repos DROP CONSTRAINT code_repos_request_id_key;
CREATE UNIQUE INDEX code_repos_workflow_id_key ON code_repos(workflow_id);
CREATE INDEX idx_code_repos_request_id ON code_repos(request_id);

-- The first answer, so a repeated request gets it back exactly: the run that admitted it and the
-- estimate it reported. request_fingerprint is a slow keyed hash of (project, URL, token), never
-- the token, so a repeat with other parameters (another token included) is recognised.
ALTER TABLE code_repos ADD COLUMN run_id TEXT;
ALTER TABLE code_repos ADD COLUMN estimated_size_mb NUMERIC(10,2);
ALTER TABLE code_repos ADD COLUMN request_fingerprint TEXT;

-- A disconnected repository keeps its row for the audit trail, but not its token.
ALTER TABLE code_repos ALTER COLUMN token_ciphertext DROP NOT NULL;
ALTER TABLE code_repos ALTER COLUMN token_kid DROP NOT NULL;
ALTER TABLE code_repos ADD CONSTRAINT code_repos_token_or_disconnected
    CHECK ((token_ciphertext IS NOT NULL AND token_kid IS NOT NULL) OR disconnected_at IS NOT NULL);
