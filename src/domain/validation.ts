/**
 * Turns valibot issues into readable lines, `path: message`, for every boundary that validates outside input
 * (device JSON, settings bodies, config files, feed messages).
 */
import type * as v from 'valibot';

export function issueLines(issues: readonly v.BaseIssue<unknown>[]): string[] {
  return issues.map((issue) => {
    const path = issue.path?.map((p) => String(p.key)).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}

export const describeIssues = (issues: readonly v.BaseIssue<unknown>[]): string => issueLines(issues).join('; ');
