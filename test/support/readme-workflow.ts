// The README's "Drift in CI" workflow, read from the README itself, with its
// `run:` steps made into shell for one matrix entry: a test runs them, so the
// documented workflow cannot drift away from what is tested.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

export interface WorkflowStep {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
}

export interface Workflow {
  matrix: Array<Record<string, string>>;
  steps: WorkflowStep[];
}

/** The README's heading over the workflow. */
export const WORKFLOW_HEADING = '## Drift in CI';

/** The first ```yaml block of the README's "Drift in CI" section, as its only job. */
export async function readmeWorkflow(readmePath: string): Promise<Workflow> {
  const readme = await readFile(readmePath, 'utf8');
  const at = readme.indexOf(`\n${WORKFLOW_HEADING}\n`);
  const section = at < 0 ? '' : readme.slice(at + 1).split(/\n## /)[0]!;
  const block = /```yaml\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error(`README.md has no "${WORKFLOW_HEADING}" section with a yaml block`);
  const jobs = Object.values((parse(block[1]!) as { jobs: Record<string, { strategy: { matrix: { include: Workflow['matrix'] } }; steps: WorkflowStep[] }> }).jobs);
  if (jobs.length !== 1) throw new Error(`expected one job in the README workflow, found ${jobs.length}`);
  return { matrix: jobs[0]!.strategy.matrix.include, steps: jobs[0]!.steps };
}

/**
 * Fills in `${{ ... }}` as Actions would, for the forms the workflow uses; any
 * other form fails the test instead of being guessed at.
 */
export function expand(text: string, context: { matrix: Record<string, string>; secrets: Record<string, string> }): string {
  const lookup = (table: Record<string, string>, key: string, what: string) => {
    if (!Object.hasOwn(table, key)) throw new Error(`the README workflow uses ${what}.${key}, which the test does not provide`);
    return table[key]!;
  };
  return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => {
    let m: RegExpExecArray | null;
    if ((m = /^matrix\.(\w+)$/.exec(expression))) return lookup(context.matrix, m[1]!, 'matrix');
    if ((m = /^secrets\.(\w+)$/.exec(expression))) return lookup(context.secrets, m[1]!, 'secrets');
    if ((m = /^secrets\[matrix\.(\w+)\]$/.exec(expression))) return lookup(context.secrets, lookup(context.matrix, m[1]!, 'matrix'), 'secrets');
    throw new Error(`the README workflow uses \${{ ${expression} }}, which the test cannot evaluate`);
  });
}
