import { z } from 'zod';
import type { PollDefinition } from '../../domain/pollDefinition.ts';

/**
 * The shape check of a poll definition from the API or a form, before the domain's rule check
 * (validatePollDefinition) sees it. Field errors come back as 422 with the path of each bad field.
 */
const id = z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only');
const instant = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 date and time').transform((s) => new Date(s).toISOString());

/**
 * An answer's image: a path on this site (`/static/...`), or an https URL on a host the operators
 * allowed (IMAGE_HOSTS). Anything else is refused: `javascript:` and `data:` are not images to load,
 * and a third-party host would learn the address of every voter who opens the poll.
 */
export const imageUrlProblem = (value: string, imageHosts: readonly string[]): string | null => {
  if (/^\/(?![/\\])/.test(value)) return /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(value) ? null : 'must be a plain path on this site';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a path on this site (/...) or an https:// address';
  }
  if (url.protocol !== 'https:') return 'must be a path on this site (/...) or an https:// address';
  if (url.username || url.password || !imageHosts.includes(url.hostname.toLowerCase())) return `images may come from this site${imageHosts.length ? ` or ${imageHosts.join(', ')}` : ''} only`;
  return null;
};

const imageUrl = (imageHosts: readonly string[]) =>
  z.string().trim().max(2000).superRefine((value, ctx) => {
    const problem = imageUrlProblem(value, imageHosts);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const optionOf = (imageHosts: readonly string[]) => z.object({
  id,
  label: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  imageUrl: imageUrl(imageHosts).optional(),
  cost: z.number().int().positive().optional(),
  district: z.string().max(100).optional(),
});

const questionOf = (imageHosts: readonly string[]) => z.object({
  id,
  text: z.string().trim().min(1).max(500),
  options: z.array(optionOf(imageHosts)).min(1).max(200),
  minChoices: z.number().int().min(0),
  maxChoices: z.number().int().min(1),
  allowFreeText: z.boolean().optional(),
});

/** The definition's shape; option images may come from `imageHosts` (IMAGE_HOSTS) besides this site. */
export const pollDefinitionSchema = (imageHosts: readonly string[] = []) => z.object({
  kind: z.enum(['general', 'vs', 'survey', 'policy', 'budget']),
  title: z.string().trim().min(1).max(200),
  description: z.string().max(10_000).optional(),
  tags: z.array(z.string().trim().min(1).max(30)).max(10).default([]),
  questions: z.array(questionOf(imageHosts)).min(1).max(50),
  settings: z.object({
    opensAt: instant,
    closesAt: instant,
    firstComeCap: z.number().int().positive().optional(),
    voterRollRequired: z.boolean().optional(),
    onSite: z.object({ latitude: z.number(), longitude: z.number(), radiusMeters: z.number().positive().max(100_000), label: z.string().max(200).optional() }).optional(),
    resultsVisibility: z.enum(['live', 'sealed']).default('live'),
    allowRevote: z.boolean().default(false),
  }),
  policy: z.object({ mode: z.enum(['decision', 'reference']), reflectionPercent: z.number().int().min(1).max(100) }).optional(),
  budget: z.object({ total: z.number().int().positive(), currency: z.string().min(1).max(8), rule: z.enum(['greedy', 'equal-shares']) }).optional(),
  orgId: z.string().optional(),
});

/** The shape check with images from this site only. */
export const pollDefinitionInput = pollDefinitionSchema();

export type PollDefinitionInput = Omit<PollDefinition, 'pollId'>;

export const ballotInput = z.object({
  selections: z.record(z.string(), z.array(z.string().max(64)).max(200)),
  freeText: z.record(z.string(), z.string().max(1000)).optional(),
  location: z.object({ latitude: z.number().min(-90).max(90), longitude: z.number().min(-180).max(180) }).optional(),
});

export const reflectionInput = z.object({
  text: z.string().trim().min(1).max(10_000),
  links: z.array(z.string().url()).max(20).default([]),
  reflectedPercent: z.number().min(0).max(100),
  status: z.string().trim().min(1).max(100),
});

/** Zod issues as the API's `details`: one `{ field, problem }` per bad field. */
export const fieldProblems = (error: z.ZodError) => error.issues.map((i) => ({ field: i.path.join('.') || '(body)', problem: i.message }));

export class InputError extends Error {
  readonly status = 422;
  readonly expose = true;
  constructor(readonly problems: Array<{ field: string; problem: string }>) {
    super(`Invalid input: ${problems.map((p) => `${p.field} ${p.problem}`).join('; ')}`);
  }
}

export const parseInput = <T extends z.ZodTypeAny>(schema: T, value: unknown): z.infer<T> => {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InputError(fieldProblems(parsed.error));
  return parsed.data;
};
