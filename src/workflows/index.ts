export { connectRepository } from './connect-repository.js';
export { reconcileRepositories } from './reconcile-repositories.js';
export { enforceRetention } from './enforce-retention.js';
export { coalescedSync } from './coalesced-sync.js';
