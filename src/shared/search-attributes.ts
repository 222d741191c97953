import { defineSearchAttributeKey } from '@temporalio/common';

/** Custom search attributes, so operators can filter runs in the Temporal UI. */
export const PROJECT_ID = defineSearchAttributeKey('ProjectId', 'KEYWORD');
export const REPO_ID = defineSearchAttributeKey('RepoId', 'KEYWORD');
export const CLONE_STATUS = defineSearchAttributeKey('CloneStatus', 'KEYWORD');

/** `--search-attribute` arguments for the dev server, which must know them before a run may set them. */
export const SEARCH_ATTRIBUTE_FLAGS = [PROJECT_ID, REPO_ID, CLONE_STATUS].flatMap((k) => [
  '--search-attribute',
  `${k.name}=Keyword`,
]);
