-- Projects own repositories; owner_id is the JWT subject of the user who created the project.
CREATE TABLE projects (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        TEXT NOT NULL,
    owner_id    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_projects_owner_id ON projects(owner_id);

-- The design's code_repos table. Timestamps are TIMESTAMPTZ rather than the design's TIMESTAMP so
-- that instants do not depend on the server's time zone; the remaining columns are additions this
-- product needs: the idempotency key, the workflow that owns the row, and why it failed.
CREATE TABLE code_repos (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id          UUID NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    git_url             TEXT NOT NULL,
    token_ciphertext    BYTEA NOT NULL,
    token_kid           TEXT NOT NULL,
    repository_size_mb  NUMERIC(10,2),
    clone_status        TEXT NOT NULL DEFAULT 'PENDING'
                        CHECK (clone_status IN ('PENDING', 'CLONING', 'COMPLETED', 'FAILED', 'CLEANING', 'CLEANED')),
    sandbox_path        TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    request_id          UUID NOT NULL UNIQUE,
    workflow_id         TEXT,
    error_code          TEXT,
    error_message       TEXT
);
CREATE INDEX idx_code_repos_project_id ON code_repos(project_id);
CREATE INDEX idx_code_repos_status ON code_repos(clone_status);
CREATE INDEX idx_code_repos_created_at ON code_repos(created_at);

-- Append-only trail of every state change. repo_id has no foreign key on purpose: the trail
-- outlives the rows it describes.
CREATE TABLE audit_log (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    correlation_id  TEXT,
    request_id      UUID,
    repo_id         UUID,
    action          TEXT NOT NULL,
    from_state      TEXT,
    to_state        TEXT,
    user_id         TEXT,
    metadata        JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_audit_log_request_id ON audit_log(request_id);
CREATE INDEX idx_audit_log_repo_id ON audit_log(repo_id);
