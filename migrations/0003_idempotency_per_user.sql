-- Idempotency keys are scoped per user: the workflow id carries the user's scope and the key, so
-- it is the unique handle of a request; the same request_id from two users makes two requests.
ALTER TABLE code_repos DROP CONSTRAINT code_repos_request_id_key;
CREATE UNIQUE INDEX code_repos_workflow_id_key ON code_repos(workflow_id);
CREATE INDEX idx_code_repos_request_id ON code_repos(request_id);

-- The first answer, so a repeated request gets it back exactly: the run that admitted it and the
-- estimate it reported. request_fingerprint is an HMAC of (request, project, URL, token) under a
-- service key (service_keys), never the token: a repeat with other parameters (another token
-- included) is recognised.
ALTER TABLE code_repos ADD COLUMN run_id TEXT;
ALTER TABLE code_repos ADD COLUMN estimated_size_mb NUMERIC(10,2);
ALTER TABLE code_repos ADD COLUMN request_fingerprint TEXT;

-- A disconnected repository keeps its row for the audit trail, but not its token.
ALTER TABLE code_repos ALTER COLUMN token_ciphertext DROP NOT NULL;
ALTER TABLE code_repos ALTER COLUMN token_kid DROP NOT NULL;
ALTER TABLE code_repos ADD CONSTRAINT code_repos_token_or_disconnected
    CHECK ((token_ciphertext IS NOT NULL AND token_kid IS NOT NULL) OR disconnected_at IS NOT NULL);

-- Keys the service itself uses (the HMAC key of request fingerprints), wrapped like tokens' data
-- keys by the key provider: in plain form only in the memory of the processes that use them.
-- One per name and wrapping key: a process uses the one its keys can open (after a rotation,
-- rotate-keys re-wraps it, so the same key stays in use).
CREATE TABLE service_keys (
    name        TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (name, key_id)
);
