-- Which host's disk holds a row's files (its worker's host task queue), set when a clone starts:
-- cleanup, sweeps and the reconciler need it. file_count lets a repeated clone activity return the
-- recorded result. disconnected_at marks a connection ended by DELETE (the row stays for the audit trail).
ALTER TABLE code_repos ADD COLUMN host_task_queue TEXT;
ALTER TABLE code_repos ADD COLUMN file_count INTEGER;
ALTER TABLE code_repos ADD COLUMN disconnected_at TIMESTAMPTZ;

-- The reconciler walks the rows that are not settled, in id order.
CREATE INDEX idx_code_repos_unsettled ON code_repos(id)
    WHERE clone_status IN ('PENDING', 'CLONING', 'COMPLETED', 'CLEANING')
       OR (disconnected_at IS NOT NULL AND clone_status <> 'CLEANED');
