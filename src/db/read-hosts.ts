import type { Queryable } from './client.js';

export interface ReadHost {
  hostTaskQueue: string;
  /** The read service's base URL, as the host advertised it. */
  url: string;
  /** Seconds since the host last renewed its row, by the database's clock. */
  ageSeconds: number;
}

/** Advertises (or renews) the host's read service address. */
export async function advertiseReadHost(sql: Queryable, hostTaskQueue: string, url: string): Promise<void> {
  await sql`
    insert into read_hosts ${sql({ hostTaskQueue, url })}
    on conflict (host_task_queue) do update set url = excluded.url, heartbeat_at = now()`;
}

/** Withdraws the address, when it is still this one (a restarted host may already advertise a new one). */
export async function withdrawReadHost(sql: Queryable, hostTaskQueue: string, url: string): Promise<void> {
  await sql`delete from read_hosts where host_task_queue = ${hostTaskQueue} and url = ${url}`;
}

export async function findReadHost(sql: Queryable, hostTaskQueue: string): Promise<ReadHost | undefined> {
  const [host] = await sql<ReadHost[]>`
    select host_task_queue, url, extract(epoch from now() - heartbeat_at)::float8 as age_seconds
    from read_hosts where host_task_queue = ${hostTaskQueue}`;
  return host;
}
