-- Push webhooks. Each connection made from now on gets a secret of its own, envelope-encrypted
-- like the token (bound to its row); null in rows made before webhooks existed, and once the
-- repository is disconnected. Both columns are set together or not at all.
ALTER TABLE code_repos ADD COLUMN webhook_secret_ciphertext BYTEA;
ALTER TABLE code_repos ADD COLUMN webhook_secret_kid TEXT;
ALTER TABLE code_repos ADD CONSTRAINT code_repos_webhook_secret_whole
    CHECK ((webhook_secret_ciphertext IS NULL) = (webhook_secret_kid IS NULL));

-- The deliveries each repository's webhook has acted on, by the sender's delivery id: a
-- redelivery of one is answered as a duplicate and triggers nothing. A delivery is claimed
-- (signalled_at null) before its sync is signalled and marked after; a claim left unmarked by an
-- attempt that died goes stale, and a redelivery takes it over. Rows older than the redelivery
-- window are deleted (the index serves that sweep); cascade with their repository.
CREATE TABLE webhook_deliveries (
    repo_id       UUID NOT NULL REFERENCES code_repos(id) ON DELETE CASCADE,
    delivery_id   TEXT NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    signalled_at  TIMESTAMPTZ,
    PRIMARY KEY (repo_id, delivery_id)
);
CREATE INDEX idx_webhook_deliveries_received_at ON webhook_deliveries(received_at);
