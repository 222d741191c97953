-- Where each worker host's read service answers: the API routes a read of a clone to the host that holds it
-- (code_repos.host_task_queue). A host renews its row while it runs and removes it when it stops; a row
-- not renewed for a while is a host that is gone.
CREATE TABLE read_hosts (
  host_task_queue TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
