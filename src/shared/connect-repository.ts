import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { CloneStatus } from './repo-status.js';

/** Workflow input. Evolve by adding optional fields only: old histories replay with old inputs. */
export interface ConnectRepositoryInput {
  requestId: string;
  correlationId: string;
  userId: string;
  projectId: string;
  gitUrl: string;
  accessToken: string;
}

/** What the API answers once the workflow has admitted the request (the early return). */
export interface Admission {
  repoId: string;
  gitUrl: string;
  cloneStatus: CloneStatus;
  estimatedSizeMb: number | null;
  createdAt: string;
}

export type Stage = 'encrypting' | 'persisting' | 'cloning' | 'completed' | 'failed';

/** Live state, answered by `getStateQuery` without touching the database. */
export interface ConnectRepositoryState {
  stage: Stage;
  repoId: string | null;
  cloneStatus: CloneStatus | null;
  progressPercent: number;
  progressMessage: string | null;
  errorCode: string | null;
  errorMessage: string | null;
}

export const admissionUpdate = defineUpdate<Admission>('admission');
export const getStateQuery = defineQuery<ConnectRepositoryState>('getState');

/** One workflow per request: the id depends on `request_id` alone, so a retried request finds the first run. */
export const workflowIdFor = (requestId: string): string => `connect-repository-${requestId}`;
